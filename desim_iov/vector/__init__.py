"""Batched slot environments: N independent episodes of one scenario advanced together in
one vectorised state (desim_iov/vector/README in docs/USAGE.md, "Batched environments")."""
