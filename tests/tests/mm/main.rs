//! The simulator's tests by topic: the kernel's own test vectors (the prctl and merge.c
//! selftests, vectors observed on 6.18), the naming rules, and scenarios checked against the
//! exact numbers of docs/kernel-semantics.md (fork and COW, fault-around, brk and the stack,
//! mremap/munmap/mprotect/madvise, pagemap, the rmap, status, swap).

mod common;

mod fault_around;
mod fork_cow;
mod heap_stack;
mod host_vectors;
mod hot_cold_kernel;
mod lru;
mod madvise_selftest;
mod merge;
mod merge_mremap;
mod migrate;
mod mlock_selftest;
mod model_found;
mod mremap_dontunmap_selftest;
mod name_objects;
mod names;
mod pagemap;
mod prctl_selftest;
mod pressure;
mod rmap;
mod soft_dirty;
mod status;
mod swap;
mod vma_ops;
