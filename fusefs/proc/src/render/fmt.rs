//! Allocation-free number formatting shared by the renderers.
//!
//! The kernel's seq_file helpers that the /proc files use, redone on a `Vec<u8>`: `%0Nlx`
//! zero-padded lowercase hex ([`hex_min`]), `seq_put_decimal_ull` ([`dec`]) and
//! `seq_put_decimal_ull_width` ([`dec_width`], space-padded on the left, never truncated), plus the
//! `label + value + " kB\n"` line that smaps, status and meminfo all print ([`kb_line`]). Nothing
//! here allocates beyond growing `out`.

/// Appends `n` copies of `byte`.
pub(super) fn pad(out: &mut Vec<u8>, byte: u8, n: usize) {
    out.resize(out.len() + n, byte);
}

/// Appends `v` in lowercase hex, zero-padded to at least `min` digits (`%0<min>lx`; wider values
/// are printed in full).
pub(super) fn hex_min(out: &mut Vec<u8>, v: u64, min: usize) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 16];
    let mut i = buf.len();
    let mut n = v;
    loop {
        i -= 1;
        buf[i] = DIGITS[(n & 0xf) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    pad(out, b'0', min.saturating_sub(buf.len() - i));
    out.extend_from_slice(&buf[i..]);
}

/// Appends `v` in decimal (`%lu`).
pub(super) fn dec(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Appends `v` in decimal right-aligned in `width` columns with spaces (`%<width>lu`).
pub(super) fn dec_width(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut buf = itoa::Buffer::new();
    let s = buf.format(v);
    pad(out, b' ', width.saturating_sub(s.len()));
    out.extend_from_slice(s.as_bytes());
}

/// Appends `label`, then `kb` right-aligned in `width` columns, then `" kB\n"`: the kernel's
/// `SEQ_PUT_DEC` / `show_val_kb` line. The label carries its own padding, as in the kernel source.
pub(super) fn kb_line(out: &mut Vec<u8>, label: &str, kb: u64, width: usize) {
    out.extend_from_slice(label.as_bytes());
    dec_width(out, kb, width);
    out.extend_from_slice(b" kB\n");
}

/// What `render` appends to an empty buffer, as text (the renderers' tests compare it with
/// literal expected text).
#[cfg(test)]
pub(crate) fn text(render: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    render(&mut out);
    String::from_utf8(out).expect("renderers write UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        text(f)
    }

    #[test]
    fn hex_pads_to_minimum_and_never_truncates() {
        assert_eq!(s(|o| hex_min(o, 0, 8)), "00000000");
        assert_eq!(s(|o| hex_min(o, 0x400000, 8)), "00400000");
        assert_eq!(s(|o| hex_min(o, 0x7fd4c9351000, 8)), "7fd4c9351000");
        assert_eq!(s(|o| hex_min(o, u64::MAX, 8)), "ffffffffffffffff");
        assert_eq!(s(|o| hex_min(o, 0x103, 2)), "103");
        assert_eq!(s(|o| hex_min(o, 2, 2)), "02");
        assert_eq!(s(|o| hex_min(o, 0xab, 0)), "ab");
    }

    #[test]
    fn decimals_right_align_and_never_truncate() {
        assert_eq!(s(|o| dec(o, 0)), "0");
        assert_eq!(s(|o| dec(o, u64::MAX)), "18446744073709551615");
        assert_eq!(s(|o| dec_width(o, 4, 8)), "       4");
        assert_eq!(s(|o| dec_width(o, 123456789, 8)), "123456789");
        assert_eq!(
            s(|o| kb_line(o, "Rss:            ", 52, 8)),
            "Rss:                  52 kB\n"
        );
    }
}
