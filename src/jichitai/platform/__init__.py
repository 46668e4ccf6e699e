"""The shared kernel: tenancy, storage, keys and crypto, pki, audit, staff identity, configuration."""
