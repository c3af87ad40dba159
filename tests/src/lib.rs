//! End-to-end and oracle tests of anonmap live in tests/tests/.
