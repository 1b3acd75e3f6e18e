#!/usr/bin/env node
// SPDX-License-Identifier: MIT
//
// A `solc` command line on top of solc-js (the official compiler built to
// WebAssembly, npm package `solc`, pinned in package.json).
//
// It speaks the subset of the native `solc` CLI that our tools call:
//   - py-solc-x / ape-solidity: `--version`, `--help`,
//     `--standard-json [--base-path P] [--allow-paths ...]` (JSON on stdin),
//     `<remappings> --combined-json LIST [--base-path P] -` (source on stdin);
//   - crytic-compile / slither:
//     `<remappings> <files> --combined-json LIST --allow-paths A,B`.
// Output, exit codes and error texts follow native solc 0.8.x: standard-json
// always exits 0 with errors inside the JSON; combined-json exits 1 on a
// compile error (messages on stderr, nothing on stdout); an unknown option
// prints "unrecognised option '--x'" and exits 1.
'use strict';

const fs = require('fs');
const path = require('path');

const SOLC_PKG_DIR = path.dirname(require.resolve('solc/package.json'));

// ---------------------------------------------------------------- output ---

// Write everything, then exit from the write callback: process.exit() right
// after process.stdout.write() can cut a piped output at 64 KiB.
function finish(code, out, err) {
  if (err) fs.writeSync(2, err);
  if (!out) {
    process.exit(code);
  }
  process.stdout.write(out, () => process.exit(code));
}

function fail(message, code = 1) {
  finish(code, '', message.endsWith('\n') ? message : message + '\n');
}

// --------------------------------------------------------------- version ---

// Native solc prints "<version>+commit.<hash>.<platform>". solc-js reports
// ".Emscripten.clang" as the platform; we print the native Linux form so
// that every caller sees the same string as with a native 0.8.x binary. The
// compiler itself (version and commit) is identical.
function nativeVersionString(jsVersion) {
  return jsVersion.replace(/\.Emscripten\.clang$/, '.Linux.g++');
}

// `--version` is called before every compilation; loading the wasm takes
// ~0.6 s, so cache the string, keyed by the installed solc-js version.
function versionString() {
  const pkgVersion = JSON.parse(fs.readFileSync(path.join(SOLC_PKG_DIR, 'package.json'), 'utf8')).version;
  const cacheDir = path.join(SOLC_PKG_DIR, '..', '.cache', 'tes-solc-bridge');
  const cacheFile = path.join(cacheDir, 'version.json');
  try {
    const cached = JSON.parse(fs.readFileSync(cacheFile, 'utf8'));
    if (cached.pkgVersion === pkgVersion && typeof cached.version === 'string') return cached.version;
  } catch (_) { /* no cache yet */ }
  const version = nativeVersionString(loadSolc().version());
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
    const tmp = `${cacheFile}.${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify({ pkgVersion, version }));
    fs.renameSync(tmp, cacheFile);
  } catch (_) { /* read-only tree: fine, just slower */ }
  return version;
}

let solcModule = null;
function loadSolc() {
  if (!solcModule) solcModule = require('solc');
  return solcModule;
}

// ------------------------------------------------------ combined-json map ---

// combined-json component -> [standard-json output selection, getter]
const COMBINED = {
  'abi': ['abi', (c) => c.abi],
  'asm': ['evm.legacyAssembly', (c) => c.evm && c.evm.legacyAssembly],
  'bin': ['evm.bytecode.object', (c) => c.evm && c.evm.bytecode && c.evm.bytecode.object],
  'bin-runtime': ['evm.deployedBytecode.object', (c) => c.evm && c.evm.deployedBytecode && c.evm.deployedBytecode.object],
  'devdoc': ['devdoc', (c) => c.devdoc],
  'function-debug': ['evm.bytecode.functionDebugData', (c) => c.evm && c.evm.bytecode && c.evm.bytecode.functionDebugData],
  'function-debug-runtime': ['evm.deployedBytecode.functionDebugData', (c) => c.evm && c.evm.deployedBytecode && c.evm.deployedBytecode.functionDebugData],
  'generated-sources': ['evm.bytecode.generatedSources', (c) => c.evm && c.evm.bytecode && c.evm.bytecode.generatedSources],
  'generated-sources-runtime': ['evm.deployedBytecode.generatedSources', (c) => c.evm && c.evm.deployedBytecode && c.evm.deployedBytecode.generatedSources],
  'hashes': ['evm.methodIdentifiers', (c) => c.evm && c.evm.methodIdentifiers],
  'metadata': ['metadata', (c) => c.metadata],
  'opcodes': ['evm.bytecode.opcodes', (c) => c.evm && c.evm.bytecode && c.evm.bytecode.opcodes],
  'srcmap': ['evm.bytecode.sourceMap', (c) => (c.evm && c.evm.bytecode && c.evm.bytecode.sourceMap) || ''],
  'srcmap-runtime': ['evm.deployedBytecode.sourceMap', (c) => (c.evm && c.evm.deployedBytecode && c.evm.deployedBytecode.sourceMap) || ''],
  'storage-layout': ['storageLayout', (c) => c.storageLayout],
  'transient-storage-layout': ['transientStorageLayout', (c) => c.transientStorageLayout],
  'userdoc': ['userdoc', (c) => c.userdoc],
};
const COMBINED_NAMES = [...Object.keys(COMBINED), 'ast'].sort();

// ------------------------------------------------------------------ help ---

// py-solc-x reads the component list from the line that starts with
// "  --combined-json" (last space-separated word), as with native solc.
function helpText(version) {
  return `solc, the Solidity commandline compiler.

This program comes with ABSOLUTELY NO WARRANTY. This is free software, and you
are welcome to redistribute it under certain conditions. See 'solc --license'
for details.

(This is a solc-js bridge, version ${version}; it implements the options below.)

Usage: solc [options] [input_file...]
Compiles the given Solidity input files (or the standard input if "-" is
used as a file name) and outputs the components specified in the options
at standard output or in files in the output directory, if specified.
Imports are automatically read from the filesystem, but it is also possible to
remap paths using the context:prefix=path syntax.

General Information:
  --help               Show help message and exit.
  --version            Show version and exit.

Input Options:
  --base-path path     Use the given path as the root of the source tree
                       instead of the root of the filesystem.
  --include-path path  Make an additional source directory available to the
                       default import callback. Use this option if you want to
                       import contracts whose location is not fixed in relation
                       to your main source tree, e.g. third-party libraries
                       installed using a package manager. Can be used multiple
                       times. Can only be used if base path has a non-empty
                       value.
  --allow-paths path(s)
                       Allow a given path for imports. A list of paths can be
                       supplied by separating them with a comma.
  --ignore-missing     Ignore missing files.

Output Options:
  -o [ --output-dir ] path
                       If given, creates one file per output component and
                       contract/file at the specified directory.
  --overwrite          Overwrite existing files (used together with -o).
  --evm-version version (default: cancun)
                       Select desired EVM version. Either homestead,
                       tangerineWhistle, spuriousDragon, byzantium,
                       constantinople, petersburg, istanbul, berlin, london,
                       paris, shanghai, cancun or prague.
  --via-ir             Use the new IR-based code generator.
  --revert-strings debug,default,strip,verboseDebug
                       Strip revert (and require) reason strings or add
                       additional debugging information.
  --stop-after stage   Stop execution after the given compiler stage. Valid
                       options: "parsing".

Alternative Input Modes:
  --standard-json      Switch to Standard JSON input / output mode, ignoring
                       all options. It reads from standard input, if no input
                       file was given, otherwise it reads from the provided
                       input file. The result will be written to standard
                       output.

Output Formatting:
  --pretty-json        Pretty-print all JSON output, using the default
                       indentation level of 2 spaces.
  --json-indent N      Indent pretty-printed JSON with N spaces. Enables
                       '--pretty-json' automatically.
  --color              Force colored output.
  --no-color           Explicitly disable colored output, disabling terminal
                       auto-detection.
  --error-codes        Output error codes.

Output Components:
  --combined-json ${COMBINED_NAMES.join(',')}
                       Output a single json document containing the specified
                       information.

Metadata Options:
  --metadata-hash ipfs,none,swarm
                       Choose hash method for the bytecode metadata or disable
                       it.
  --metadata-literal   Store referenced sources as literal data in the metadata
                       output.

Optimizer Options:
  --optimize           Enable optimizer.
  --optimize-runs n (=200)
                       The number of runs specifies roughly how often each
                       opcode of the deployed code will be executed across the
                       lifetime of the contract. Lower values will optimize
                       more for initial deployment cost, higher values will
                       optimize more for high-frequency usage.
  --optimize-yul       Legacy option, ignored. Use the general --optimize to
                       enable Yul optimizer.
  --no-optimize-yul    Disable Yul optimizer in Solidity.

`;
}

// ------------------------------------------------------- argument parsing ---

const FLAGS = new Set([
  'help', 'version', 'standard-json', 'optimize', 'via-ir', 'overwrite', 'pretty-json',
  'color', 'no-color', 'error-codes', 'metadata-literal', 'optimize-yul', 'no-optimize-yul',
  'ignore-missing',
]);
const WITH_VALUE = new Set([
  'base-path', 'include-path', 'allow-paths', 'output-dir', 'evm-version', 'revert-strings',
  'stop-after', 'json-indent', 'combined-json', 'metadata-hash', 'optimize-runs',
]);
const EVM_VERSIONS = new Set([
  'homestead', 'tangerineWhistle', 'spuriousDragon', 'byzantium', 'constantinople',
  'petersburg', 'istanbul', 'berlin', 'london', 'paris', 'shanghai', 'cancun', 'prague',
]);

function parseArgs(argv) {
  const opts = { flags: new Set(), includePaths: [], allowPaths: [], files: [], remappings: [] };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    if (arg === '-') { opts.files.push('-'); continue; }
    if (arg === '-o') arg = '--output-dir';
    if (arg.startsWith('--')) {
      let name = arg.slice(2);
      let value = null;
      const eq = name.indexOf('=');
      if (eq >= 0) { value = name.slice(eq + 1); name = name.slice(0, eq); }
      if (FLAGS.has(name) && value === null) { opts.flags.add(name); continue; }
      if (WITH_VALUE.has(name)) {
        if (value === null) {
          if (i + 1 >= argv.length) throw new UsageError(`the required argument for option '--${name}' is missing`);
          value = argv[++i];
        }
        if (name === 'include-path') opts.includePaths.push(value);
        else if (name === 'allow-paths') opts.allowPaths.push(...value.split(',').filter(Boolean));
        else opts[name] = value;
        continue;
      }
      throw new UsageError(`unrecognised option '--${name}'`);
    }
    if (arg.startsWith('-') && arg.length > 1) throw new UsageError(`unrecognised option '${arg}'`);
    if (arg.includes('=')) opts.remappings.push(arg);
    else opts.files.push(arg);
  }
  return opts;
}

class UsageError extends Error {}

// ------------------------------------------------------ paths and imports ---

// Native solc (>= 0.8.8) path rules, simplified: a CLI path becomes a source
// unit name relative to the base path (or the CWD when no base path is set)
// or to an include path; imports are looked up under the base path and the
// include paths; only allowed directories may be read.
function isUnder(dir, p) {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

class FileReader {
  constructor(opts) {
    this.basePath = opts['base-path'] ? path.resolve(opts['base-path']) : '';
    this.includePaths = opts.includePaths.map((p) => path.resolve(p));
    if (this.includePaths.length && !this.basePath) {
      throw new UsageError('--include-path option requires a non-empty base path.');
    }
    this.allowed = [...opts.allowPaths.map((p) => path.resolve(p)), ...this.includePaths];
    if (this.basePath) this.allowed.push(this.basePath);
    this.ignoreMissing = opts.flags.has('ignore-missing');
  }

  allow(dir) { this.allowed.push(path.resolve(dir)); }

  cliPathToSourceUnitName(cliPath) {
    const abs = path.resolve(cliPath);
    for (const prefix of [this.basePath || process.cwd(), ...this.includePaths]) {
      if (isUnder(prefix, abs)) return path.relative(prefix, abs).split(path.sep).join('/');
    }
    return abs;
  }

  // The import callback: gets a source unit name after remapping.
  read(sourceUnitName) {
    let name = sourceUnitName.startsWith('file://') ? sourceUnitName.slice(7) : sourceUnitName;
    const candidates = [];
    const searched = [];
    const prefixes = path.isAbsolute(name) ? [''] : [this.basePath || process.cwd(), ...this.includePaths];
    for (const prefix of prefixes) {
      const p = prefix ? path.resolve(prefix, name) : path.resolve(name);
      searched.push(`"${p}"`);
      let st = null;
      try { st = fs.statSync(p); } catch (_) { /* missing */ }
      if (st && st.isFile()) candidates.push(p);
    }
    if (candidates.length === 0) {
      return { error: `File not found. Searched the following locations: ${searched.join(', ')}.` };
    }
    if (candidates.length > 1) {
      return { error: `Ambiguous import. Multiple matching files found inside base path and/or include paths: ${candidates.map((c) => `"${c}"`).join(', ')}.` };
    }
    const file = candidates[0];
    if (!this.allowed.some((dir) => isUnder(dir, file))) {
      const list = this.allowed.map((d) => `"${d}"`).join(', ');
      return { error: `File outside of allowed directories. The following are allowed: ${list}.` };
    }
    try {
      return { contents: fs.readFileSync(file, 'utf8') };
    } catch (e) {
      return { error: `Cannot read file: ${e.message}` };
    }
  }
}

function remappingTarget(remapping) {
  const eq = remapping.indexOf('=');
  return eq >= 0 ? remapping.slice(eq + 1) : '';
}

function readStdin() {
  try { return fs.readFileSync(0, 'utf8'); } catch (e) {
    if (e.code === 'EAGAIN' || e.code === 'EOF') return '';
    throw e;
  }
}

// -------------------------------------------------------------- compile ---

function compileStandard(inputText, reader) {
  return loadSolc().compile(inputText, { import: (p) => reader.read(p) });
}

function standardJsonMode(opts, reader) {
  let input;
  if (opts.files.length > 1) throw new UsageError('Too many input files for --standard-json.');
  if (opts.files.length === 1 && opts.files[0] !== '-') input = fs.readFileSync(opts.files[0], 'utf8');
  else input = readStdin();
  // Native solc loads sources given by "urls" through its file reader.
  let parsed = null;
  try { parsed = JSON.parse(input); } catch (_) { /* solc reports the parse error */ }
  if (parsed && parsed.sources && typeof parsed.sources === 'object') {
    let changed = false;
    for (const src of Object.values(parsed.sources)) {
      if (src && src.content === undefined && Array.isArray(src.urls)) {
        for (const url of src.urls) {
          const r = reader.read(url);
          if (r.contents !== undefined) { src.content = r.contents; changed = true; break; }
        }
      }
    }
    if (changed) input = JSON.stringify(parsed);
  }
  const output = compileStandard(input, reader);
  finish(0, output + '\n', '');
}

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    const out = {};
    for (const k of Object.keys(value).sort()) {
      if (value[k] !== null && value[k] !== undefined) out[k] = sortKeys(value[k]);
    }
    return out;
  }
  return value;
}

function combinedJsonMode(opts, reader) {
  const requested = opts['combined-json'].split(',').map((s) => s.trim()).filter(Boolean);
  for (const r of requested) {
    if (r !== 'ast' && !(r in COMBINED)) {
      throw new UsageError(`Invalid option to --combined-json: ${r}`);
    }
  }
  if (opts.files.length === 0) throw new UsageError('No input files given. If you wish to use the standard input please specify "-" explicitly.');

  // Sources: CLI files become source units; "-" reads standard input.
  const sources = {};
  for (const f of opts.files) {
    if (f === '-') { sources['<stdin>'] = { content: readStdin() }; continue; }
    const abs = path.resolve(f);
    let content;
    try { content = fs.readFileSync(abs, 'utf8'); } catch (_) {
      if (opts.flags.has('ignore-missing')) { process.stderr.write(`"${f}" is not found. Skipping.\n`); continue; }
      throw new UsageError(`"${abs}" is not found.`);
    }
    reader.allow(path.dirname(abs));
    sources[reader.cliPathToSourceUnitName(f)] = { content };
  }
  if (Object.keys(sources).length === 0) throw new UsageError('All specified input files either do not exist or are not regular files.');
  for (const r of opts.remappings) {
    const target = remappingTarget(r);
    if (target) reader.allow(target);
  }

  const selection = requested.filter((r) => r !== 'ast').map((r) => COMBINED[r][0]);
  const settings = {
    remappings: opts.remappings,
    optimizer: { enabled: opts.flags.has('optimize'), runs: 200 },
    outputSelection: { '*': { '*': selection, '': requested.includes('ast') ? ['ast'] : [] } },
  };
  if (opts['optimize-runs'] !== undefined) {
    const runs = Number(opts['optimize-runs']);
    if (!Number.isInteger(runs) || runs < 0) throw new UsageError(`Invalid option to --optimize-runs: ${opts['optimize-runs']}`);
    settings.optimizer.runs = runs;
  }
  if (opts.flags.has('no-optimize-yul')) settings.optimizer.details = { yul: false };
  if (opts['evm-version']) {
    if (!EVM_VERSIONS.has(opts['evm-version'])) throw new UsageError(`Invalid option for --evm-version: ${opts['evm-version']}`);
    settings.evmVersion = opts['evm-version'];
  }
  if (opts.flags.has('via-ir')) settings.viaIR = true;
  if (opts['revert-strings']) settings.debug = { revertStrings: opts['revert-strings'] };
  if (opts['metadata-hash'] || opts.flags.has('metadata-literal')) {
    settings.metadata = {};
    if (opts['metadata-hash']) settings.metadata.bytecodeHash = opts['metadata-hash'] === 'swarm' ? 'bzzr1' : opts['metadata-hash'];
    if (opts.flags.has('metadata-literal')) settings.metadata.useLiteralContent = true;
  }
  if (opts['stop-after']) settings.stopAfter = opts['stop-after'];

  const input = { language: 'Solidity', sources, settings };
  const out = JSON.parse(compileStandard(JSON.stringify(input), reader));

  let stderr = '';
  let failed = false;
  for (const e of out.errors || []) {
    let msg = e.formattedMessage || `${e.type}: ${e.message}`;
    if (opts.flags.has('error-codes') && e.errorCode) msg = msg.replace(/^(\w+):/, `$1 (${e.errorCode}):`);
    stderr += msg.endsWith('\n') ? msg + '\n' : msg + '\n\n';
    if (e.severity === 'error') failed = true;
  }
  if (failed) return finish(1, '', stderr);

  const result = { version: versionString() };
  const contracts = {};
  for (const [src, byName] of Object.entries(out.contracts || {})) {
    for (const [name, c] of Object.entries(byName)) {
      const data = {};
      for (const r of requested) {
        if (r === 'ast') continue;
        const v = COMBINED[r][1](c);
        if (v !== undefined) data[r] = v;
      }
      contracts[`${src}:${name}`] = data;
    }
  }
  if (Object.keys(contracts).length) result.contracts = contracts;

  const outSources = out.sources || {};
  const ordered = Object.keys(outSources).sort((a, b) => outSources[a].id - outSources[b].id);
  if (requested.includes('ast') || requested.includes('srcmap') || requested.includes('srcmap-runtime')) {
    result.sourceList = ordered;
  }
  if (requested.includes('ast')) {
    result.sources = {};
    for (const s of ordered) result.sources[s] = { AST: outSources[s].ast, id: outSources[s].id };
  }

  const indent = opts['json-indent'] !== undefined ? Number(opts['json-indent'])
    : (opts.flags.has('pretty-json') ? 2 : 0);
  const json = JSON.stringify(sortKeys(result), null, indent || undefined) + '\n';

  if (opts['output-dir']) {
    const dir = path.resolve(opts['output-dir']);
    const file = path.join(dir, 'combined.json');
    if (fs.existsSync(file) && !opts.flags.has('overwrite')) {
      return finish(1, '', stderr + `Refusing to overwrite existing file "${file}" (use --overwrite to force).\n`);
    }
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(file, json);
    return finish(0, '', stderr);
  }
  return finish(0, json, stderr);
}

// ----------------------------------------------------------------- main ---

function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
    if (opts.flags.has('help')) return finish(0, helpText(versionString()), '');
    if (opts.flags.has('version')) {
      return finish(0, `solc, the solidity compiler commandline interface\nVersion: ${versionString()}\n`, '');
    }
    const reader = new FileReader(opts);
    if (opts.flags.has('standard-json')) return standardJsonMode(opts, reader);
    if (opts['combined-json'] !== undefined) return combinedJsonMode(opts, reader);
    throw new UsageError('This solc-js bridge supports only --standard-json and --combined-json compilation (see --help).');
  } catch (e) {
    if (e instanceof UsageError) return fail(e.message);
    return fail(`Internal error in the solc-js bridge: ${e && e.stack ? e.stack : e}`, 2);
  }
}

main();
