//! Agreement checks between the simulator's views and the reference model, page by page (never
//! by VMA boundaries, which the model does not know): maps coverage, perms and labels; smaps
//! counters per VMA recomputed from the pages it covers; pagemap pfns against content objects
//! (same content, same frame; different content, different frames); the rmap of every frame;
//! the page cache; status counters; PSS conservation; the name table. Swap: smaps Swap and
//! SwapPss, status VmSwap, meminfo's swap lines, pagemap swap entries (same content, same slot;
//! different contents, different slots), the swap cache's unmapped frames, and frames and slots
//! that must stay put while their content stays resident or swapped. Memory management: smaps
//! `Locked:` and `LazyFree:`, VmFlags `lo` and `lf`, status `VmLck`, and the page flags of every
//! mapped frame the model follows (PG_mlocked; for anonymous frames PG_referenced, PG_active,
//! PG_swapbacked and PG_dirty).

use std::collections::{BTreeMap, BTreeSet};

use anonmap_abi::pagemap::{PM_FILE, PM_MMAP_EXCLUSIVE, PM_PFRAME_MASK, PM_PRESENT, PM_SWAP};
use anonmap_abi::vm_flags;
use anonmap_mm::Machine;
use anonmap_proc::view::{SmapsCounters, PSS_SHIFT};

use super::reference::{Content, Model, PageModel, ARENA_PAGES, ARENA_VPN, PAGE, ZERO_PFN};

/// One page as the simulator's maps shows it.
struct SimPage {
    perms: String,
    label: Option<String>,
    /// VM_DONTCOPY and VM_WIPEONFORK.
    fork_flags: (bool, bool),
    /// VM_LOCKED and VM_LOCKONFAULT (VmFlags `lo`, `lf`).
    lock_flags: (bool, bool),
    /// The inode column (0 for anonymous memory).
    inode: u64,
    /// The file page index (`offset` column + distance into the VMA), file VMAs only.
    index: Option<u64>,
}

fn perms(flags: u64) -> String {
    let bit = |b: u64, c: char| if flags & b != 0 { c } else { '-' };
    [
        bit(vm_flags::VM_READ, 'r'),
        bit(vm_flags::VM_WRITE, 'w'),
        bit(vm_flags::VM_EXEC, 'x'),
        if flags & vm_flags::VM_MAYSHARE != 0 {
            's'
        } else {
            'p'
        },
    ]
    .iter()
    .collect()
}

fn model_perms(p: &PageModel) -> String {
    let prot = p.prot;
    [
        if prot.read { 'r' } else { '-' },
        if prot.write { 'w' } else { '-' },
        if prot.exec { 'x' } else { '-' },
        if p.shared { 's' } else { 'p' },
    ]
    .iter()
    .collect()
}

fn model_label(model: &Model, p: &PageModel) -> Option<String> {
    match p.file {
        Some((f, _)) if model.files[f].shmem => Some(match &p.name {
            Some(n) => format!("[anon_shmem:{n}]"),
            None => "/dev/zero (deleted)".into(),
        }),
        Some((f, _)) => Some(model.files[f].path.clone()),
        None => p.name.as_ref().map(|n| format!("[anon:{n}]")),
    }
}

/// The smaps counters the model predicts for the pages `[s, e)` of `pid`.
fn expected_counters(
    model: &Model,
    pid: u32,
    s: u64,
    e: u64,
    holders: &BTreeMap<Content, Vec<(u32, u64)>>,
    swap_counts: &BTreeMap<u64, u64>,
) -> SmapsCounters {
    let mut c = SmapsCounters::default();
    for p in model.procs[&pid].range(s..e).map(|(_, p)| p) {
        if let Some(id) = p.swap_id() {
            c.swap += PAGE;
            c.swap_pss += swap_pss(swap_counts[&id]);
            continue;
        }
        let Some(key) = p.frame() else {
            // smaps_pte_hole/shmem_swap_usage: a shared shmem VMA counts its object's swapped
            // pages in its range.
            if let Some((f, index)) = p.file {
                if p.shared && model.files[f].swapped.contains(&index) {
                    c.swap += PAGE;
                }
            }
            continue;
        };
        let h = holders[&key].len() as u64;
        let pss = (PAGE << PSS_SHIFT) / h;
        c.rss += PAGE;
        c.pss += pss;
        // smaps_account: Referenced is the PTE's young bit or the page's PG_referenced.
        if p.young || matches!(key, Content::Anon(id) if model.referenced.contains(&id)) {
            c.referenced += PAGE;
        }
        if p.locked {
            c.locked += pss;
        }
        let dirty = if let Content::Anon(id) = key {
            // Anonymous pages are dirty when written through their PTE (or forked so), or when
            // PG_dirty (their swap freed while mapped, a write GUP through a clean PTE, a
            // lazyfree page found written); clean when a read swapped them in.
            c.anonymous += PAGE;
            c.pss_anon += pss;
            let dirty = p.dirty || model.anon_dirty.contains(&id);
            // LazyFree: a lazyfree page clean in this mapping, not weighted by sharers.
            if model.lazyfree.contains(&id) && !dirty {
                c.lazyfree += PAGE;
            }
            dirty
        } else {
            let (f, index) = p.file.expect("a file page");
            let file = &model.files[f];
            // Shmem pages count as shmem; they are dirty through this mapping's PTE, or through
            // the page's PG_dirty (a write fault, a dirty PTE zapped, a swap-in); private file
            // mappings only read the page cache, so their pages are clean.
            if file.shmem {
                c.pss_shmem += pss;
            } else {
                c.pss_file += pss;
            }
            p.dirty || file.dirty.contains(&index)
        };
        if dirty {
            c.pss_dirty += pss;
        }
        match (dirty, h == 1) {
            (true, true) => c.private_dirty += PAGE,
            (true, false) => c.shared_dirty += PAGE,
            (false, true) => c.private_clean += PAGE,
            (false, false) => c.shared_clean += PAGE,
        }
    }
    c
}

/// `Ok` if the simulator's `got` is the model's `expect`, else the error naming `what`.
fn agree<T: PartialEq + std::fmt::Debug>(what: &str, got: T, expect: T) -> Result<(), String> {
    if got == expect {
        Ok(())
    } else {
        Err(format!("{what}: simulator {got:?}, model {expect:?}"))
    }
}

/// `smaps_pte_entry`'s SwapPss for one swap PTE of a slot `count` PTEs refer to.
fn swap_pss(count: u64) -> u64 {
    let full = PAGE << PSS_SHIFT;
    if count >= 2 {
        full / count
    } else {
        full
    }
}

/// Compares everything; the first disagreement is the error. Learns (into `model.slot_of` and
/// `model.pfn_of`) the slots and frames the simulator chose, and checks they stay put.
pub fn check_all(m: &Machine, model: &mut Model) -> Result<(), String> {
    let pids: Vec<u32> = model.procs.keys().copied().collect();
    agree("pids", &m.pids(), &pids)?;
    let holders = model.frames();
    let swap_counts = model.swap_counts();
    // The model's own rule: a content both mapped and swapped was swapped in through the swap
    // cache, so it is there.
    if let Some(id) = swap_counts
        .keys()
        .find(|&&id| holders.contains_key(&Content::Anon(id)) && !model.swap_cached.contains(&id))
    {
        return Err(format!(
            "model: Anon({id}) is both mapped and swapped but not in the swap cache"
        ));
    }
    let mut pfn_of: BTreeMap<Content, u64> = BTreeMap::new();
    let mut content_of: BTreeMap<u64, Content> = BTreeMap::new();
    let mut slot_of: BTreeMap<u64, u64> = BTreeMap::new();
    let mut id_of_slot: BTreeMap<u64, u64> = BTreeMap::new();
    let mut total_pss = 0u64;
    let mut total_swap_pss = 0u64;
    for &pid in &pids {
        let pages = &model.procs[&pid];
        let view = m
            .address_space_view(pid)
            .ok_or_else(|| format!("pid {pid}: no address_space_view"))?;
        // maps: coverage, perms, labels, file offsets.
        let mut sim: BTreeMap<u64, SimPage> = BTreeMap::new();
        for v in &view.vmas {
            let (s, e) = (v.start / PAGE, v.end / PAGE);
            let mut expect = expected_counters(model, pid, s, e, &holders, &swap_counts);
            let c = v.counters;
            // Referenced: the PTE young bits the model tracks, exactly for anonymous pages. A
            // page-cache page may also count through its folio's own referenced flag (set by
            // `folio_mark_accessed` when a young PTE of it is zapped, cleared again when a
            // second one activates it), which the model does not follow: with file pages in the
            // VMA only bounds are checked.
            let files_here = pages.range(s..e).any(|(_, p)| {
                p.frame().is_some() && p.file.is_some() && !matches!(p.content, Content::Anon(_))
            });
            if files_here && (expect.referenced..=expect.rss).contains(&c.referenced) {
                expect.referenced = c.referenced;
            }
            let got = c;
            if got != expect {
                return Err(format!(
                    "pid {pid} VMA {:#x}-{:#x} smaps counters:\n  simulator {c:?}\n  model     \
                     {expect:?}",
                    v.start, v.end
                ));
            }
            total_pss += c.pss;
            total_swap_pss += c.swap_pss;
            let is_file = v.inode != 0;
            for vpn in s..e {
                sim.insert(
                    vpn,
                    SimPage {
                        perms: perms(v.flags),
                        label: v.label.clone(),
                        inode: v.inode,
                        fork_flags: (
                            v.flags & vm_flags::VM_DONTCOPY != 0,
                            v.flags & vm_flags::VM_WIPEONFORK != 0,
                        ),
                        lock_flags: (
                            v.flags & vm_flags::VM_LOCKED != 0,
                            v.flags & vm_flags::VM_LOCKONFAULT != 0,
                        ),
                        index: is_file.then(|| v.offset / PAGE + (vpn - s)),
                    },
                );
            }
        }
        let sim_keys: Vec<u64> = sim.keys().copied().collect();
        let model_keys: Vec<u64> = pages.keys().copied().collect();
        if sim_keys != model_keys {
            let only_sim: Vec<String> = sim_keys
                .iter()
                .filter(|k| !pages.contains_key(k))
                .map(|k| format!("{:#x}", k * PAGE))
                .collect();
            let only_model: Vec<String> = model_keys
                .iter()
                .filter(|k| !sim.contains_key(k))
                .map(|k| format!("{:#x}", k * PAGE))
                .collect();
            return Err(format!(
                "pid {pid}: mapped pages differ; only in simulator {only_sim:?}, only in model \
                 {only_model:?}"
            ));
        }
        for (vpn, p) in pages {
            let s = &sim[vpn];
            let (mp, ml) = (model_perms(p), model_label(model, p));
            let mi = p.file.map(|(_, i)| i);
            let mf = (p.dontfork, p.wipeonfork);
            if s.lock_flags != (p.locked, p.onfault) {
                return Err(format!(
                    "pid {pid} page {:#x}: VmFlags (lo, lf) {:?}, model {:?}",
                    vpn * PAGE,
                    s.lock_flags,
                    (p.locked, p.onfault)
                ));
            }
            if let Some((f, _)) = p.file.filter(|&(f, _)| model.files[f].shmem) {
                if model.files[f].inode != Some(s.inode) {
                    return Err(format!(
                        "pid {pid} page {:#x}: shmem inode {} in maps, the object mapped there \
                         has inode {:?}",
                        vpn * PAGE,
                        s.inode,
                        model.files[f].inode
                    ));
                }
            }
            if s.perms != mp || s.label != ml || s.index != mi || s.fork_flags != mf {
                return Err(format!(
                    "pid {pid} page {:#x}: simulator {} {:?} index {:?} (dontfork, wipeonfork) \
                     {:?}, model {mp} {ml:?} index {mi:?} {mf:?}",
                    vpn * PAGE,
                    s.perms,
                    s.label,
                    s.index,
                    s.fork_flags
                ));
            }
        }
        // pagemap over the whole arena.
        let entries = m
            .pagemap(pid, ARENA_VPN, ARENA_PAGES)
            .ok_or_else(|| format!("pid {pid}: no pagemap"))?;
        for (i, &e) in entries.iter().enumerate() {
            let vpn = ARENA_VPN + i as u64;
            let at = vpn * PAGE;
            let present = e & PM_PRESENT != 0;
            let pfn = e & PM_PFRAME_MASK;
            let Some(p) = pages.get(&vpn) else {
                if e != 0 {
                    return Err(format!(
                        "pid {pid} {at:#x}: unmapped but pagemap entry {e:#x}"
                    ));
                }
                continue;
            };
            if let Some(id) = p.swap_id() {
                // A swap PTE: PM_SWAP and the slot (type 0) in the pfn field, nothing else.
                let slot = (e & PM_PFRAME_MASK) >> 5;
                if e != PM_SWAP | slot << 5 || slot == 0 || slot > model.swap_slots {
                    return Err(format!(
                        "pid {pid} {at:#x}: {:?} is swapped but pagemap entry is {e:#x}",
                        p.content
                    ));
                }
                if let Some(&other) = slot_of.get(&id).or(model.slot_of.get(&id)) {
                    if other != slot {
                        return Err(format!(
                            "pid {pid} {at:#x}: {:?} is in swap slot {slot} here but slot {other} \
                             elsewhere or before (one content, one slot while it is swapped)",
                            p.content
                        ));
                    }
                }
                if let Some(&other) = id_of_slot.get(&slot) {
                    if other != id {
                        return Err(format!(
                            "pid {pid} {at:#x}: swap slot {slot} holds {:?} here but Anon({other}) \
                             elsewhere (different contents, different slots)",
                            p.content
                        ));
                    }
                }
                slot_of.insert(id, slot);
                id_of_slot.insert(slot, id);
                continue;
            }
            match p.frame() {
                None if p.content == Content::Zero => {
                    if e != 0 && e != PM_PRESENT | ZERO_PFN {
                        return Err(format!(
                            "pid {pid} {at:#x}: never-written page has pagemap entry {e:#x} \
                             (expected none or the zero page)"
                        ));
                    }
                }
                None => {
                    if e != 0 {
                        return Err(format!(
                            "pid {pid} {at:#x}: file page not mapped by the model, pagemap \
                             entry {e:#x}"
                        ));
                    }
                }
                Some(key) => {
                    if !present || pfn == ZERO_PFN {
                        return Err(format!(
                            "pid {pid} {at:#x}: holds {key:?} but pagemap entry is {e:#x}"
                        ));
                    }
                    let h = holders[&key].len();
                    let exclusive = e & PM_MMAP_EXCLUSIVE != 0;
                    let file = e & PM_FILE != 0;
                    if exclusive != (h == 1) || file != matches!(key, Content::File { .. }) {
                        return Err(format!(
                            "pid {pid} {at:#x}: {key:?} held by {h}, pagemap entry {e:#x} \
                             (exclusive {exclusive}, file {file})"
                        ));
                    }
                    if let Some(&other) = pfn_of.get(&key).or(model.pfn_of.get(&key)) {
                        if other != pfn {
                            return Err(format!(
                                "pid {pid} {at:#x}: {key:?} is pfn {pfn} here but pfn {other} \
                                 elsewhere or before (the same content must be one frame, which \
                                 stays put while the content is resident: a swap-in finds it in \
                                 the swap cache)"
                            ));
                        }
                    }
                    if let Some(&other) = content_of.get(&pfn) {
                        if other != key {
                            return Err(format!(
                                "pid {pid} {at:#x}: pfn {pfn} holds {key:?} here but {other:?} \
                                 elsewhere (different contents must be different frames: COW)"
                            ));
                        }
                    }
                    pfn_of.insert(key, pfn);
                    content_of.insert(pfn, key);
                }
            }
        }
        // status counters.
        let st = m
            .status_view(pid)
            .ok_or_else(|| format!("pid {pid}: no status_view"))?;
        let anon = pages
            .values()
            .filter(|p| matches!(p.content, Content::Anon(_)) && !p.swapped)
            .count() as u64;
        let swapped = pages.values().filter(|p| p.swapped).count() as u64;
        let shmem = pages
            .values()
            .filter(|p| p.shared && p.frame().is_some())
            .count() as u64;
        let file = pages.values().filter(|p| p.frame().is_some()).count() as u64 - anon - shmem;
        let expect = (
            anon * 4,
            file * 4,
            shmem * 4,
            pages.len() as u64 * 4,
            swapped * 4,
            model.locked_vm[&pid] * 4,
        );
        let got = (
            st.rss_anon_kb,
            st.rss_file_kb,
            st.rss_shmem_kb,
            st.vm_size_kb,
            st.vm_swap_kb,
            st.vm_lck_kb,
        );
        agree(
            &format!("pid {pid} status (RssAnon, RssFile, RssShmem, VmSize, VmSwap, VmLck) kB"),
            got,
            expect,
        )?;
    }
    // rmap: every frame's mappers are exactly the model's holders.
    for (key, hs) in &holders {
        let pfn = pfn_of[key];
        let r = m
            .rmap_view(pfn)
            .ok_or_else(|| format!("{key:?} pfn {pfn}: no rmap view (frame free?)"))?;
        let got: BTreeSet<(u32, u64)> = r.mappers.iter().map(|x| (x.pid, x.vaddr)).collect();
        let want: BTreeSet<(u32, u64)> = hs.iter().map(|&(p, v)| (p, v * PAGE)).collect();
        if got != want || r.mapcount != hs.len() as u64 {
            return Err(format!(
                "{key:?} pfn {pfn}: rmap mappers {:?} mapcount {}, model holders {:?}",
                fmt_set(&got),
                r.mapcount,
                fmt_set(&want)
            ));
        }
        // Page flags: PG_mlocked (with PG_unevictable) for every frame; for anonymous frames
        // PG_referenced, PG_active, PG_swapbacked (not lazyfree) and PG_dirty too.
        let has = |f: &str| r.flags.iter().any(|x| x == f);
        let mlocked = model.mlocked.contains_key(key);
        if has("mlocked") != mlocked || has("unevictable") != mlocked {
            return Err(format!(
                "{key:?} pfn {pfn}: flags {:?}; the model has it {}mlocked ({:?})",
                r.flags,
                if mlocked { "" } else { "not " },
                model.mlocked.get(key)
            ));
        }
        if let Content::Anon(id) = *key {
            let want = [
                ("referenced", model.referenced.contains(&id)),
                ("active", model.active.contains(&id)),
                ("swapbacked", !model.lazyfree.contains(&id)),
                ("dirty", model.anon_dirty.contains(&id)),
            ];
            if let Some((f, w)) = want.iter().find(|(f, w)| has(f) != *w) {
                return Err(format!(
                    "{key:?} pfn {pfn}: flags {:?}; the model has it {}{f}",
                    r.flags,
                    if *w { "" } else { "not " },
                ));
            }
        }
        if let Content::File { file, index } = *key {
            let want = model.files[file].rmap_mapping();
            if r.mapping != want || r.index != index {
                return Err(format!(
                    "{key:?} pfn {pfn}: rmap mapping {} index {}, expected {want} index {index}",
                    r.mapping, r.index
                ));
            }
        } else if !r.mapping.starts_with("anon_vma:") {
            return Err(format!("{key:?} pfn {pfn}: rmap mapping {}", r.mapping));
        } else if let Content::Anon(id) = *key {
            // In the swap cache exactly while other pages hold swap PTEs for it; the cache
            // holds one reference.
            let in_cache = model.swap_cached.contains(&id);
            let refs = hs.len() as u64 + u64::from(in_cache);
            if r.flags.iter().any(|f| f == "swapcache") != in_cache || r.refcount != refs {
                return Err(format!(
                    "{key:?} pfn {pfn}: flags {:?} refcount {}; the model has it {} the swap \
                     cache, {} mappings",
                    r.flags,
                    r.refcount,
                    if in_cache { "in" } else { "not in" },
                    hs.len()
                ));
            }
        }
    }
    // Resident frames: the held ones plus exactly the page cache.
    let resident: BTreeSet<u64> = m.resident_pfns().into_iter().collect();
    let mut cached: BTreeSet<(String, u64)> = BTreeSet::new();
    // Live shmem objects have distinct inodes.
    let mut inodes = BTreeSet::new();
    for (i, f) in model.files.iter().enumerate() {
        let live = model
            .procs
            .values()
            .any(|p| p.values().any(|p| p.file.is_some_and(|(g, _)| g == i)));
        if f.shmem && live && !inodes.insert(f.inode) {
            return Err(format!("two live shmem objects have inode {:?}", f.inode));
        }
    }
    for (key, &pfn) in &pfn_of {
        if !resident.contains(&pfn) {
            return Err(format!("{key:?} pfn {pfn} is not among resident_pfns"));
        }
        if let Content::File { file, index } = *key {
            cached.insert((model.files[file].rmap_mapping(), index));
        }
    }
    // Swap-cache frames nothing maps: one per cached content that no page maps.
    let mut unmapped_swap_cache: BTreeSet<u64> = BTreeSet::new();
    for &pfn in resident.difference(&content_of.keys().copied().collect()) {
        let r = m
            .rmap_view(pfn)
            .ok_or_else(|| format!("resident pfn {pfn} has no rmap view"))?;
        // Anonymous once mapped (or paged out), or read ahead by MADV_WILLNEED and not
        // mapped since ("none").
        if (r.mapping.starts_with("anon_vma:") || r.mapping == "none")
            && r.flags.iter().any(|f| f == "swapcache")
            && r.mappers.is_empty()
            && r.mapcount == 0
            && r.refcount == 1
        {
            unmapped_swap_cache.insert(pfn);
            continue;
        }
        if !r.mapping.starts_with("file:") && !r.mapping.starts_with("shmem:") {
            return Err(format!(
                "resident pfn {pfn} ({}) is held by no page of the model (leaked frame?)",
                r.mapping
            ));
        }
        let path = &r.mapping;
        if !r.mappers.is_empty() {
            return Err(format!(
                "pfn {pfn} ({path} index {}) is mapped at {:?} but the model maps it nowhere",
                r.index,
                r.mappers
                    .iter()
                    .map(|x| (x.pid, x.vaddr))
                    .collect::<Vec<_>>()
            ));
        }
        cached.insert((path.clone(), r.index));
    }
    let model_cached: BTreeSet<(String, u64)> = model
        .files
        .iter()
        .flat_map(|f| f.cached.iter().map(move |&i| (f.rmap_mapping(), i)))
        .collect();
    agree("page cache", cached, model_cached)?;
    let cache_only: Vec<u64> = model
        .swap_cached
        .iter()
        .copied()
        .filter(|&id| !holders.contains_key(&Content::Anon(id)))
        .collect();
    if cache_only.len() != unmapped_swap_cache.len() {
        return Err(format!(
            "unmapped swap-cache frames: simulator pfns {unmapped_swap_cache:?}, model contents \
             {cache_only:?}"
        ));
    }
    let mut seen = BTreeSet::new();
    for &id in &cache_only {
        if let Some(&pfn) = model.pfn_of.get(&Content::Anon(id)) {
            if !unmapped_swap_cache.contains(&pfn) || !seen.insert(pfn) {
                return Err(format!(
                    "Anon({id}) stays in the swap cache, unmapped, in pfn {pfn}, but that pfn \
                     is not an unmapped swap-cache frame (or holds another content): \
                     {unmapped_swap_cache:?}"
                ));
            }
        }
    }
    // Swap: meminfo, and SwapPss conservation (as PSS: each slot referred to c times
    // contributes c * floor((4096 << 12) / c)).
    let mi = m.meminfo_view();
    let anon_mapped = holders
        .keys()
        .filter(|k| matches!(k, Content::Anon(_)))
        .count() as u64;
    let page_cache = |shmem_only: bool| {
        model
            .files
            .iter()
            .filter(|f| f.shmem || !shmem_only)
            .map(|f| f.cached.len() as u64)
            .sum::<u64>()
    };
    let file_mapped = holders
        .keys()
        .filter(|k| matches!(k, Content::File { .. }))
        .count() as u64;
    let expect = [
        model.swap_slots,
        model.free_slots(),
        model.swap_cached.len() as u64,
        anon_mapped,
        page_cache(false),
        page_cache(true),
        file_mapped,
    ]
    .map(|pages| pages * 4);
    let got = [
        mi.swap_total_kb,
        mi.swap_free_kb,
        mi.swap_cached_kb,
        mi.anon_pages_kb,
        mi.cached_kb,
        mi.shmem_kb,
        mi.mapped_kb,
    ];
    agree(
        "meminfo (SwapTotal, SwapFree, SwapCached, AnonPages, Cached, Shmem, Mapped) kB",
        got,
        expect,
    )?;
    let expect: u64 = swap_counts.values().map(|&c| c * swap_pss(c)).sum();
    if total_swap_pss != expect {
        return Err(format!(
            "SwapPss conservation: sum of SwapPss {total_swap_pss}, expected {expect} for {} \
             slots",
            swap_counts.len()
        ));
    }
    // PSS conservation: each frame mapped h times contributes h * floor((4096 << 12) / h) to
    // the sum of all processes' Pss. That is exactly 4096 << 12 when h divides 2^24 (h a power
    // of two); otherwise the kernel's per-mapping truncation loses (2^24 mod h) < h units of
    // 2^-12 bytes per frame, which this accounts for exactly.
    let full = PAGE << PSS_SHIFT;
    let expect: u64 = holders
        .values()
        .map(|h| h.len() as u64 * (full / h.len() as u64))
        .sum();
    let loss_bound: u64 = holders.values().map(|h| h.len() as u64).sum();
    let frames = holders.len() as u64;
    if total_pss != expect || frames * full - total_pss >= loss_bound.max(1) {
        return Err(format!(
            "PSS conservation: sum of Pss {total_pss}, expected {expect} for {frames} frames \
             ({} << 24)",
            frames
        ));
    }
    // Name table: the live name objects are exactly the names in use.
    let in_use: BTreeSet<&str> = model
        .procs
        .values()
        .flat_map(|p| p.values().filter_map(|p| p.name.as_deref()))
        .collect();
    let table = m.name_table_view();
    let texts: BTreeSet<&str> = table.iter().map(|o| o.text.as_str()).collect();
    if texts != in_use {
        return Err(format!(
            "name table texts {texts:?}, names in use {in_use:?}"
        ));
    }
    if let Some(o) = table.iter().find(|o| o.refcount != o.vmas || o.vmas == 0) {
        return Err(format!("name object {o:?}: refcount is not its VMA count"));
    }
    // Learned: what was seen now stays put (the model forgets a content's slot when it has no
    // swap PTE left, its frame when it stops being resident).
    model.slot_of.extend(slot_of);
    model.pfn_of.extend(pfn_of);
    Ok(())
}

fn fmt_set(s: &BTreeSet<(u32, u64)>) -> Vec<String> {
    s.iter().map(|(p, v)| format!("{p}@{v:#x}")).collect()
}

/// Reads the residency of the file pages a fork may or may not have copied, and checks it is
/// per-VMA all-or-nothing, and "all" when the VMA holds anonymous pages (it then has an
/// anon_vma, so `copy_page_range` must copy every PTE).
pub fn resolve_uncertain(
    m: &Machine,
    model: &mut Model,
    pages: &[(u32, u64)],
) -> Result<(), String> {
    let mut by_vma: BTreeMap<(u32, u64, u64), Vec<bool>> = BTreeMap::new();
    for &(pid, vpn) in pages {
        let e = m.pagemap(pid, vpn, 1).and_then(|v| v.first().copied());
        let present = e.is_some_and(|e| e & PM_PRESENT != 0);
        if present {
            model
                .procs
                .get_mut(&pid)
                .and_then(|p| p.get_mut(&vpn))
                .ok_or("uncertain page vanished")?
                .resident = true;
        }
        let view = m.address_space_view(pid).ok_or("no view")?;
        let v = view
            .vmas
            .iter()
            .find(|v| v.start / PAGE <= vpn && vpn < v.end / PAGE)
            .ok_or_else(|| format!("pid {pid}: page {:#x} not in any VMA", vpn * PAGE))?;
        by_vma
            .entry((pid, v.start / PAGE, v.end / PAGE))
            .or_default()
            .push(present);
    }
    for ((pid, s, e), copied) in by_vma {
        let has_anon = model.procs[&pid]
            .range(s..e)
            .any(|(_, p)| matches!(p.content, Content::Anon(_)));
        let all = copied.iter().all(|&c| c);
        if !(all || (!has_anon && copied.iter().all(|&c| !c))) {
            return Err(format!(
                "fork child {pid} VMA {:#x}-{:#x}: file PTEs copied {copied:?} (anon pages in \
                 the VMA: {has_anon}); fork copies all of a VMA's PTEs or none, and all when it \
                 has an anon_vma",
                s * PAGE,
                e * PAGE
            ));
        }
    }
    Ok(())
}
