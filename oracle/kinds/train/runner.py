"""train: a PyTorch MLP classifier trained on a CSV dataset shipped in the bundle (the client
copies scikit-learn's handwritten digits by default). CPU by default; on a GPU when the job's
manifest asks for one (resources.gpus >= 1), which the node then gives it.

Outputs: weights/<tensor>.npy (one file per state_dict entry, float32, C order), model.json
(architecture and tensor shapes) and metrics.json (loss per epoch, test accuracy). Nothing
time- or machine-dependent is written, so replicas produce identical files.
"""

from __future__ import annotations

import os

import tes_kit as kit


def load_dataset(path):
    import numpy as np

    table = np.loadtxt(path, delimiter=",", dtype=np.float64)
    x, y = table[:, :-1], table[:, -1].astype(np.int64)
    return x, y


def main() -> None:
    kit.check_packages()
    cfg = kit.config()
    seed = kit.seed()
    gpus = int(kit.manifest().get("resources", {}).get("gpus", 0))

    import numpy as np
    import torch
    from torch import nn

    want = cfg.get("device", "auto")
    if want == "auto":
        want = "cuda" if gpus >= 1 else "cpu"
    if want == "cuda" and not torch.cuda.is_available():
        kit.fail(
            "the job asks for a GPU but none is visible "
            f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '')!r})",
            kit.EXIT_ENVIRONMENT,
        )
    device = torch.device(want)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    torch.backends.cudnn.benchmark = False

    x, y = load_dataset(kit.job_dir() / cfg["dataset"])
    x = x / float(cfg.get("scale", 1.0))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    if cfg.get("subset"):
        order = order[: int(cfg["subset"])]
    n_test = int(round(len(order) * float(cfg.get("test_fraction", 0.2))))
    test_idx, train_idx = order[:n_test], order[n_test:]
    classes = int(y.max()) + 1

    def tensor(a, dtype):
        return torch.from_numpy(np.ascontiguousarray(a)).to(dtype=dtype, device=device)

    x_train, y_train = tensor(x[train_idx], torch.float32), tensor(y[train_idx], torch.int64)
    x_test, y_test = tensor(x[test_idx], torch.float32), tensor(y[test_idx], torch.int64)

    layers: list[nn.Module] = []
    width = x.shape[1]
    for hidden in cfg.get("hidden", [64]):
        layers += [nn.Linear(width, int(hidden)), nn.ReLU()]
        width = int(hidden)
    layers.append(nn.Linear(width, classes))
    model = nn.Sequential(*layers).to(device)

    lr = float(cfg.get("lr", 0.1))
    opt: torch.optim.Optimizer
    if cfg.get("optimizer", "sgd") == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=float(cfg.get("momentum", 0.9)))
    loss_fn = nn.CrossEntropyLoss()
    batch = int(cfg.get("batch_size", 64))
    shuffle = torch.Generator().manual_seed(seed)  # on the CPU: the same order on any device

    history = []
    for epoch in range(int(cfg.get("epochs", 10))):
        model.train()
        perm = torch.randperm(len(x_train), generator=shuffle).to(device)
        total, seen = 0.0, 0
        for start in range(0, len(perm), batch):
            idx = perm[start : start + batch]
            opt.zero_grad()
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            loss.backward()
            opt.step()
            total += float(loss.item()) * len(idx)
            seen += len(idx)
        test_loss, test_acc = evaluate(model, loss_fn, x_test, y_test)
        history.append(
            {"epoch": epoch + 1, "train_loss": total / seen, "test_loss": test_loss,
             "test_accuracy": test_acc}
        )  # fmt: skip
        print(f"epoch {epoch + 1}: train loss {total / seen:.4f}, test accuracy {test_acc:.4f}")

    out = kit.out_dir()
    (out / "weights").mkdir(exist_ok=True)
    shapes = {}
    for name, value in model.state_dict().items():
        arr = np.ascontiguousarray(value.detach().cpu().numpy())
        np.save(out / "weights" / f"{name}.npy", arr)
        shapes[name] = list(arr.shape)
    kit.write_json(
        out / "model.json",
        {"type": "mlp", "inputs": int(x.shape[1]), "classes": classes,
         "hidden": [int(h) for h in cfg.get("hidden", [64])], "activation": "relu",
         "tensors": shapes, "format": "weights/<tensor>.npy (numpy, float32)"},
    )  # fmt: skip
    final = history[-1] if history else {}
    kit.write_json(
        out / "metrics.json",
        {"device": device.type, "seed": seed, "train_size": len(train_idx),
         "test_size": len(test_idx), "epochs": history,
         "test_accuracy": final.get("test_accuracy"), "test_loss": final.get("test_loss")},
    )  # fmt: skip


def evaluate(model, loss_fn, x, y) -> tuple[float, float]:
    import torch

    model.eval()
    with torch.no_grad():
        if len(x) == 0:
            return 0.0, 0.0
        logits = model(x)
        loss = float(loss_fn(logits, y).item())
        acc = int((logits.argmax(dim=1) == y).sum().item()) / len(y)
    return loss, acc


if __name__ == "__main__":
    main()
