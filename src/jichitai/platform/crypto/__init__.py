"""Keys and cryptography: keystores (file, PKCS#11), field encryption, blind indexes, JWE, signing."""
