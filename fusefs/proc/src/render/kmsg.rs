//! `kmsg` in the tree's root: the simulated kernel's log, oldest line first, one line per
//! message, each exactly as the kernel words it (`Out of memory: Killed process 7 (app)
//! total-vm:...`), without the timestamps and levels `dmesg` adds. The machine keeps a bounded
//! number of lines, as the kernel's ring buffer does: the oldest go first.

/// Appends the kmsg file: every line, each followed by a newline.
pub fn render_kmsg(lines: &[String], out: &mut Vec<u8>) {
    for line in lines {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::super::fmt::text;
    use super::*;

    #[test]
    fn one_line_per_message() {
        assert_eq!(text(|o| render_kmsg(&[], o)), "");
        let lines = [
            "Out of memory: Killed process 7 (app) total-vm:65536kB, anon-rss:65536kB, \
             file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:16kB oom_score_adj:0",
            "Out of memory and no killable processes...",
        ]
        .map(String::from);
        assert_eq!(
            text(|o| render_kmsg(&lines, o)),
            format!("{}\n{}\n", lines[0], lines[1])
        );
    }
}
