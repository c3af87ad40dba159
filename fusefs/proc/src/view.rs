//! Plain view types: the data the renderers turn into /proc text.
//!
//! These types know nothing of the simulator. The daemon fills them from its state under its read
//! lock, computing every number the way the kernel's own walk computes it (`fs/proc/task_mmu.c`);
//! the renderers only format. All sizes are in bytes unless a field says otherwise; the PSS-like
//! fields are in the kernel's fixed point (bytes << [`PSS_SHIFT`]) so that sums over VMAs stay
//! exact until display, as `smaps_rollup` requires.

/// The kernel's PSS fixed-point shift (`PSS_SHIFT` in task_mmu.c).
pub const PSS_SHIFT: u32 = 12;

/// The per-VMA counters of one smaps block, as `struct mem_size_stats` holds them.
///
/// Invariant: the plain fields are byte counts that are multiples of 4096; the `pss*`,
/// `swap_pss` and `locked` fields are fixed point (bytes << PSS_SHIFT). The struct is summed
/// field by field for `smaps_rollup`, so no field may be pre-rounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SmapsCounters {
    pub rss: u64,
    pub pss: u64,
    pub pss_dirty: u64,
    pub pss_anon: u64,
    pub pss_file: u64,
    pub pss_shmem: u64,
    pub shared_clean: u64,
    pub shared_dirty: u64,
    pub private_clean: u64,
    pub private_dirty: u64,
    pub referenced: u64,
    pub anonymous: u64,
    pub lazyfree: u64,
    pub swap: u64,
    pub swap_pss: u64,
    pub locked: u64,
}

impl SmapsCounters {
    /// Field-by-field sum, the way `show_smaps_rollup` accumulates (fixed point kept).
    pub fn add(&mut self, other: &SmapsCounters) {
        let SmapsCounters {
            rss,
            pss,
            pss_dirty,
            pss_anon,
            pss_file,
            pss_shmem,
            shared_clean,
            shared_dirty,
            private_clean,
            private_dirty,
            referenced,
            anonymous,
            lazyfree,
            swap,
            swap_pss,
            locked,
        } = *other;
        self.rss += rss;
        self.pss += pss;
        self.pss_dirty += pss_dirty;
        self.pss_anon += pss_anon;
        self.pss_file += pss_file;
        self.pss_shmem += pss_shmem;
        self.shared_clean += shared_clean;
        self.shared_dirty += shared_dirty;
        self.private_clean += private_clean;
        self.private_dirty += private_dirty;
        self.referenced += referenced;
        self.anonymous += anonymous;
        self.lazyfree += lazyfree;
        self.swap += swap;
        self.swap_pss += swap_pss;
        self.locked += locked;
    }
}

/// One VMA as maps and smaps show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmaView {
    /// vm_start, page aligned.
    pub start: u64,
    /// vm_end (exclusive), page aligned, > start.
    pub end: u64,
    /// vm_flags in the kernel's bit numbering ([`anonmap_abi::vm_flags`]); perms and VmFlags
    /// come from it.
    pub flags: u64,
    /// The offset column in bytes: `vm_pgoff << 12` for file-backed VMAs (shmem included), 0 for
    /// anonymous ones, as `show_vma_header_prefix` prints it.
    pub offset: u64,
    pub dev_major: u32,
    pub dev_minor: u32,
    pub inode: u64,
    /// The name column exactly as the kernel prints it after the padding (`get_vma_name`
    /// already applied): a path, `/dev/zero (deleted)`, `[heap]`, `[stack]`, `[anon:NAME]`,
    /// `[anon_shmem:NAME]`, `[vsyscall]`. `None` means no name: the line ends after the inode
    /// and its trailing space.
    pub label: Option<String>,
    /// smaps counters; ignored by the maps renderer.
    pub counters: SmapsCounters,
}

/// The x86_64 gate VMA (`[vsyscall]`), printed after every real VMA but not part of the mm:
/// `smaps_rollup` excludes it.
pub fn gate_vma() -> VmaView {
    VmaView {
        start: 0xffff_ffff_ff60_0000,
        end: 0xffff_ffff_ff60_1000,
        flags: anonmap_abi::vm_flags::VM_EXEC,
        offset: 0,
        dev_major: 0,
        dev_minor: 0,
        inode: 0,
        label: Some("[vsyscall]".to_string()),
        counters: SmapsCounters::default(),
    }
}

/// A process's address space as maps, smaps and smaps_rollup show it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddressSpaceView {
    /// The mm's VMAs in ascending address order (the gate VMA is not among them).
    pub vmas: Vec<VmaView>,
    /// Whether the gate VMA (`[vsyscall]`) follows the real VMAs in maps and smaps.
    pub has_gate_vma: bool,
}

impl AddressSpaceView {
    /// Calls `f` with every VMA maps and smaps print, in their order: the mm's VMAs, then the
    /// gate VMA if the space has one (smaps_rollup leaves it out).
    pub fn for_each_shown(&self, mut f: impl FnMut(&VmaView)) {
        self.vmas.iter().for_each(&mut f);
        if self.has_gate_vma {
            f(&gate_vma());
        }
    }
}

/// The memory-related numbers of `/proc/<pid>/status` and `statm`, computed as `task_mem` and
/// `task_statm` compute them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusView {
    /// `Name:` (comm, at most 15 bytes as the kernel keeps it).
    pub comm: String,
    pub pid: u32,
    /// Parent pid; 0 for a process with no living parent in the simulation.
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    /// The `Vm*`/`Rss*` lines in kB, in the order `task_mem` prints them.
    pub vm_peak_kb: u64,
    pub vm_size_kb: u64,
    pub vm_lck_kb: u64,
    pub vm_pin_kb: u64,
    pub vm_hwm_kb: u64,
    pub vm_rss_kb: u64,
    pub rss_anon_kb: u64,
    pub rss_file_kb: u64,
    pub rss_shmem_kb: u64,
    pub vm_data_kb: u64,
    pub vm_stk_kb: u64,
    pub vm_exe_kb: u64,
    pub vm_lib_kb: u64,
    pub vm_pte_kb: u64,
    pub vm_swap_kb: u64,
    /// `statm` fields in pages: size resident shared text lib data dt (lib and dt are always 0).
    pub statm_size: u64,
    pub statm_resident: u64,
    pub statm_shared: u64,
    pub statm_text: u64,
    pub statm_data: u64,
}

/// One process that maps a page, found by a reverse-map walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RmapMapper {
    pub pid: u32,
    /// The virtual address at which this process maps the page.
    pub vaddr: u64,
    pub vma_start: u64,
    pub vma_end: u64,
    /// vm_flags of that VMA (perms are printed as in maps: `rw-p`).
    pub vma_flags: u64,
    /// The VMA's name column as maps prints it; `None` for an unnamed anonymous VMA.
    pub label: Option<String>,
}

/// What `rmap/<pfn>` shows: the page frame and every mapping of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RmapView {
    pub pfn: u64,
    /// Page flags by name, in a fixed order (e.g. `anon`, `swapbacked`, `dirty`, `referenced`,
    /// `exclusive`).
    pub flags: Vec<String>,
    /// The LRU list the page is on (`inactive_anon`, `active_anon`, `inactive_file`,
    /// `active_file`, `unevictable`), or `none` (the zero page).
    pub lru: String,
    pub mapcount: u64,
    pub refcount: u64,
    /// `anon_vma:<id>`, `file:<path>`, `shmem:<inode>` or `none`.
    pub mapping: String,
    /// page->index: the linear page index for anon pages, the file page offset for file pages.
    pub index: u64,
    /// How many anon_vmas (anon pages) or files (file pages) the walk visited.
    pub anon_vmas_visited: u64,
    /// How many VMAs the walk examined (interval-tree hits), mapping or not.
    pub vmas_visited: u64,
    /// Every (process, address) mapping the page, in (pid, vaddr) order.
    pub mappers: Vec<RmapMapper>,
}

/// One name object (`struct anon_vma_name`) in the name table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameObjectView {
    /// A stable id of the object (not reused while the object lives).
    pub id: u64,
    pub text: String,
    /// The object's reference count (kref): one per VMA that points at it.
    pub refcount: u64,
    /// How many VMAs point at it (equals refcount when nothing else holds a reference).
    pub vmas: u64,
    /// The pids whose VMAs point at it, ascending.
    pub pids: Vec<u32>,
}

/// The machine-wide numbers that `meminfo` shows, in kB.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MeminfoView {
    pub mem_total_kb: u64,
    pub mem_free_kb: u64,
    pub mem_available_kb: u64,
    /// Page-cache pages (file and shmem), in kB.
    pub cached_kb: u64,
    pub swap_cached_kb: u64,
    /// The LRU lists' sizes (`Active(anon):` ... `Unevictable:`), in kB.
    pub active_anon_kb: u64,
    pub inactive_anon_kb: u64,
    pub active_file_kb: u64,
    pub inactive_file_kb: u64,
    pub unevictable_kb: u64,
    /// PG_mlocked pages (`Mlocked:`, NR_MLOCK), in kB.
    pub mlocked_kb: u64,
    /// Anonymous pages (`AnonPages:`), in kB.
    pub anon_pages_kb: u64,
    /// Page-cache pages that are mapped by at least one PTE (`Mapped:`), in kB.
    pub mapped_kb: u64,
    /// shmem pages (`Shmem:`), in kB.
    pub shmem_kb: u64,
    /// Page-table pages (`PageTables:`), in kB.
    pub page_tables_kb: u64,
    pub swap_total_kb: u64,
    pub swap_free_kb: u64,
    /// Committed address space (`Committed_AS:`), in kB.
    pub committed_as_kb: u64,
}

/// What `<pid>/oom_score` and `<pid>/oom_score_adj` show, and the floor a write of the latter
/// is checked against (`signal_struct`'s `oom_score_adj` and `oom_score_adj_min`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OomView {
    /// `proc_oom_score`: `(1000 + badness * 1000 / totalpages) * 2 / 3`, 0 for a process the
    /// OOM killer never chooses (init, `oom_score_adj` -1000).
    pub score: u64,
    /// -1000 to 1000.
    pub score_adj: i16,
    /// The floor below which a writer without CAP_SYS_RESOURCE may not set `score_adj`.
    pub score_adj_min: i16,
}

/// The machine-wide numbers of `/proc/vmstat` that the simulator keeps: page counts (in pages,
/// as vmstat prints them) and event counts since boot. Every other line of the file is 0.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VmstatView {
    /// NR_FREE_PAGES: free pages as the allocator counts them (`MemFree:` / 4).
    pub nr_free_pages: u64,
    /// The LRU lists (NR_INACTIVE_ANON ... NR_UNEVICTABLE); one zone, one node, so the
    /// `nr_zone_*` lines show the same numbers.
    pub nr_inactive_anon: u64,
    pub nr_active_anon: u64,
    pub nr_inactive_file: u64,
    pub nr_active_file: u64,
    pub nr_unevictable: u64,
    /// NR_MLOCK: PG_mlocked pages.
    pub nr_mlock: u64,
    /// NR_ANON_MAPPED (`nr_anon_pages`), NR_FILE_MAPPED (`nr_mapped`).
    pub nr_anon_pages: u64,
    pub nr_mapped: u64,
    /// NR_FILE_PAGES: the page cache, swap cache included (`Cached:` + `SwapCached:`).
    pub nr_file_pages: u64,
    pub nr_shmem: u64,
    pub nr_page_table_pages: u64,
    /// NR_SWAPCACHE.
    pub nr_swapcached: u64,
    /// `global_dirty_limits` ([`crate::render::vmstat::global_dirty_limits`]).
    pub nr_dirty_threshold: u64,
    pub nr_dirty_background_threshold: u64,
    /// The vm events (`enum vm_event_item`).
    pub pswpin: u64,
    pub pswpout: u64,
    /// Direct reclaim entered by an allocation: `allocstall_normal` (the one zone is Normal).
    pub allocstall: u64,
    pub pgactivate: u64,
    pub pgdeactivate: u64,
    pub pgfault: u64,
    pub pgmajfault: u64,
    pub pgrefill: u64,
    pub pgsteal_kswapd: u64,
    pub pgsteal_direct: u64,
    pub pgscan_kswapd: u64,
    pub pgscan_direct: u64,
    pub pgscan_anon: u64,
    pub pgscan_file: u64,
    pub pgsteal_anon: u64,
    pub pgsteal_file: u64,
    pub pageoutrun: u64,
    pub oom_kill: u64,
    pub pgmigrate_success: u64,
    pub pgmigrate_fail: u64,
}
