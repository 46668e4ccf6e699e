"""Child allowance (児童手当): certification, monthly amounts, payment runs and transfer files."""
