"""Matrix views: how a stored tensor becomes the matrix (or matrices) the passes analyze."""
