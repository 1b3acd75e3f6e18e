def test_a(pool, market): pass
def test_b(pool, market, keeper): pass
