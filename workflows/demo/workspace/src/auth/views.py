def login(request):
    """Sign a reader in; rate limiting is not written yet."""
    return None
