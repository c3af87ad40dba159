//! `vm_area_struct::vm_flags` bits, in the kernel's numbering (`include/linux/mm.h`). Only the
//! bits anonmap models are named; the smaps renderer prints any set bit through its `VmFlags`
//! table.

pub const VM_READ: u64 = 1 << 0;
pub const VM_WRITE: u64 = 1 << 1;
pub const VM_EXEC: u64 = 1 << 2;
pub const VM_SHARED: u64 = 1 << 3;
pub const VM_MAYREAD: u64 = 1 << 4;
pub const VM_MAYWRITE: u64 = 1 << 5;
pub const VM_MAYEXEC: u64 = 1 << 6;
pub const VM_MAYSHARE: u64 = 1 << 7;
pub const VM_GROWSDOWN: u64 = 1 << 8;
pub const VM_LOCKED: u64 = 1 << 13;
pub const VM_DONTCOPY: u64 = 1 << 17;
pub const VM_DONTEXPAND: u64 = 1 << 18;
pub const VM_LOCKONFAULT: u64 = 1 << 19;
pub const VM_ACCOUNT: u64 = 1 << 20;
pub const VM_NORESERVE: u64 = 1 << 21;
pub const VM_WIPEONFORK: u64 = 1 << 25;
pub const VM_DONTDUMP: u64 = 1 << 26;
/// Only on kernels built with CONFIG_MEM_SOFT_DIRTY (the machine's `soft_dirty` option).
pub const VM_SOFTDIRTY: u64 = 1 << 27;
