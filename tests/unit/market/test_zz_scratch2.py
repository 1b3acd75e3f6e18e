def test_c(pool, market): pass
