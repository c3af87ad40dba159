//! The kernel's string-to-integer conversions (lib/kstrtox.c) and `strstrip` (lib/string_helpers.c
//! `strim`), over byte strings, as the writable /proc files parse what is written to them.
//!
//! - [`strstrip`]: without the kernel's `isspace` characters at both ends (tab, newline,
//!   vertical tab, form feed, carriage return, space and, in the kernel's Latin-1 table, 0xA0).
//! - [`kstrtoll`]: an optional `-`, or an optional `+` (never both), then the digits of `base`
//!   and at most one trailing newline. Base 0 picks the base from the digits, after the sign:
//!   `0x` or `0X` followed by a hex digit is hex (and the `0x` is skipped), any other leading
//!   `0` octal, anything else decimal; base 16 also skips a leading `0x`. EINVAL when there is no
//!   digit or anything follows the digits; ERANGE when the magnitude overflows 64 bits (checked
//!   first, whatever follows) or the value does not fit an `i64`.
//! - [`kstrtoint`]: [`kstrtoll`], then ERANGE unless the value fits an `int`.
//!
//! The input is what the kernel sees of it: the caller cuts it at the first NUL byte (the
//! kernel's buffers are C strings).

use anonmap_abi::Errno;

/// The kernel's `isspace` (lib/ctype.c): `\t \n \v \f \r`, space, and 0xA0 (no-break space in
/// its Latin-1 table).
pub fn is_kernel_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0xa0)
}

/// `strstrip` (`strim`): without the trailing, then the leading, white space.
pub fn strstrip(s: &[u8]) -> &[u8] {
    let end = s
        .iter()
        .rposition(|&b| !is_kernel_space(b))
        .map_or(0, |i| i + 1);
    let s = &s[..end];
    let start = s
        .iter()
        .position(|&b| !is_kernel_space(b))
        .unwrap_or(s.len());
    &s[start..]
}

/// The C string `buffer` holds: up to its first NUL byte (the kernel's buffers are zeroed, so a
/// write without a NUL ends where the write ends).
pub fn c_string(buffer: &[u8]) -> &[u8] {
    match buffer.iter().position(|&b| b == 0) {
        Some(nul) => &buffer[..nul],
        None => buffer,
    }
}

/// `kstrtoint(s, base, &res)`: [`kstrtoll`], then ERANGE unless the value fits an `int`.
pub fn kstrtoint(s: &[u8], base: u32) -> Result<i32, Errno> {
    i32::try_from(kstrtoll(s, base)?).map_err(|_| Errno::ERANGE)
}

/// `kstrtoll(s, base, &res)`: a `-` and the magnitude (ERANGE beyond `i64::MIN`), or an
/// optional `+` and the value (ERANGE beyond `i64::MAX`).
pub fn kstrtoll(s: &[u8], base: u32) -> Result<i64, Errno> {
    if let Some(rest) = s.strip_prefix(b"-") {
        let tmp = kstrtoull_unsigned(rest, base)?;
        // `if ((long long)-tmp > 0) return -ERANGE;`
        let negated = tmp.wrapping_neg() as i64;
        if negated > 0 {
            return Err(Errno::ERANGE);
        }
        Ok(negated)
    } else {
        // kstrtoull: one `+` may lead.
        let rest = s.strip_prefix(b"+").unwrap_or(s);
        let tmp = kstrtoull_unsigned(rest, base)?;
        i64::try_from(tmp).map_err(|_| Errno::ERANGE)
    }
}

/// `_parse_integer_fixup_radix`: the base (0 becomes 16, 8 or 10 by the leading characters)
/// and the digits, past a `0x` prefix in base 16.
fn fixup_radix(s: &[u8], base: u32) -> (&[u8], u32) {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    // `_tolower(c)` is `c | 0x20`.
    let is_x = |c: u8| c | 0x20 == b'x';
    let base = match base {
        0 if at(0) == b'0' && is_x(at(1)) && at(2).is_ascii_hexdigit() => 16,
        0 if at(0) == b'0' => 8,
        0 => 10,
        base => base,
    };
    if base == 16 && at(0) == b'0' && is_x(at(1)) {
        (&s[2..], base)
    } else {
        (s, base)
    }
}

/// The value of digit `c` in any base up to 16 (`_parse_integer_limit`), if it is one.
fn digit_value(c: u8) -> Option<u32> {
    let lc = c | 0x20;
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        _ if (b'a'..=b'f').contains(&lc) => Some(u32::from(lc - b'a') + 10),
        _ => None,
    }
}

/// `_kstrtoull(s, base, &res)`: the digits of the base (ERANGE on overflow, which is checked
/// first; EINVAL for none), then at most one newline and nothing else.
fn kstrtoull_unsigned(s: &[u8], base: u32) -> Result<u64, Errno> {
    let (s, base) = fixup_radix(s, base);
    let mut value = 0u64;
    let mut overflow = false;
    let mut digits = 0;
    for &c in s {
        let Some(v) = digit_value(c).filter(|v| *v < base) else {
            break;
        };
        match value
            .checked_mul(u64::from(base))
            .and_then(|x| x.checked_add(u64::from(v)))
        {
            Some(x) => value = x,
            None => {
                overflow = true;
                value = value
                    .wrapping_mul(u64::from(base))
                    .wrapping_add(u64::from(v));
            }
        }
        digits += 1;
    }
    if overflow {
        return Err(Errno::ERANGE);
    }
    if digits == 0 {
        return Err(Errno::EINVAL);
    }
    let rest = &s[digits..];
    let rest = rest.strip_prefix(b"\n").unwrap_or(rest);
    if !rest.is_empty() {
        return Err(Errno::EINVAL);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_ten_bounds_and_overflow() {
        assert_eq!(kstrtoll(b"9223372036854775807", 10), Ok(i64::MAX));
        assert_eq!(kstrtoll(b"9223372036854775808", 10), Err(Errno::ERANGE));
        assert_eq!(kstrtoll(b"-9223372036854775808", 10), Ok(i64::MIN));
        assert_eq!(kstrtoll(b"-9223372036854775809", 10), Err(Errno::ERANGE));
        assert_eq!(kstrtoll(b"18446744073709551615", 10), Err(Errno::ERANGE));
        assert_eq!(kstrtoll(b"18446744073709551616", 10), Err(Errno::ERANGE));
        // Overflow is reported before the junk after the digits.
        assert_eq!(kstrtoll(b"99999999999999999999x", 10), Err(Errno::ERANGE));
        assert_eq!(kstrtoll(b"-0", 10), Ok(0));
        assert_eq!(kstrtoll(b"+0", 10), Ok(0));
        assert_eq!(kstrtoll(b"42\n", 10), Ok(42));
        assert_eq!(kstrtoll(b"007", 10), Ok(7), "base 10 takes leading zeros");
        for bad in [
            &b"0x10"[..],
            b"1a",
            b"",
            b"-",
            b"+",
            b"+-1",
            b"-+1",
            b"1\n\n",
            b"1 ",
        ] {
            assert_eq!(kstrtoll(bad, 10), Err(Errno::EINVAL), "{bad:?}");
        }
    }

    #[test]
    fn base_zero_picks_the_base_after_the_sign() {
        for (s, v) in [
            (&b"10"[..], 10),
            (b"0x10", 16),
            (b"0X10", 16),
            (b"0xfF", 255),
            (b"010", 8),
            (b"0", 0),
            (b"00", 0),
            (b"-0x10", -16),
            (b"+0x10", 16),
            (b"-010", -8),
            (b"+10", 10),
            (b"-1000", -1000),
            (b"0x7fffffffffffffff", i64::MAX),
            (b"-0x8000000000000000", i64::MIN),
            (b"0777777777777777777777", i64::MAX),
        ] {
            assert_eq!(kstrtoll(s, 0), Ok(v), "{s:?}");
        }
        // 2^64 - 1 in octal fits the unsigned parse, not an i64; 2^64 overflows it.
        assert_eq!(kstrtoll(b"01777777777777777777777", 0), Err(Errno::ERANGE));
        assert_eq!(kstrtoll(b"02000000000000000000000", 0), Err(Errno::ERANGE));
        for bad in [
            &b"08"[..],
            b"09",
            b"0x",
            b"0xg",
            b"0X",
            b"x10",
            b"0b1",
            b"1e3",
            b"--1",
            b"0x-1",
            b"- 1",
        ] {
            assert_eq!(kstrtoll(bad, 0), Err(Errno::EINVAL), "{bad:?}");
        }
        assert_eq!(kstrtoll(b"0x10000000000000000", 0), Err(Errno::ERANGE));
        assert_eq!(kstrtoll(b"0x8000000000000000", 0), Err(Errno::ERANGE));
    }

    #[test]
    fn base_sixteen_skips_its_prefix() {
        assert_eq!(kstrtoll(b"0x1f", 16), Ok(31));
        assert_eq!(kstrtoll(b"1f", 16), Ok(31));
        assert_eq!(kstrtoll(b"0x", 16), Err(Errno::EINVAL));
    }

    #[test]
    fn kstrtoint_is_int_sized() {
        assert_eq!(kstrtoint(b"2147483647", 0), Ok(i32::MAX));
        assert_eq!(kstrtoint(b"-2147483648", 0), Ok(i32::MIN));
        assert_eq!(kstrtoint(b"2147483648", 0), Err(Errno::ERANGE));
        assert_eq!(kstrtoint(b"-2147483649", 0), Err(Errno::ERANGE));
        assert_eq!(kstrtoint(b"0x80000000", 0), Err(Errno::ERANGE));
        assert_eq!(kstrtoint(b"0x7fffffff", 0), Ok(i32::MAX));
        assert_eq!(kstrtoint(b"-0x80000000", 0), Ok(i32::MIN));
    }

    #[test]
    fn strstrip_trims_both_ends() {
        assert_eq!(strstrip(b"  a b \n"), b"a b");
        assert_eq!(strstrip(b" \t\n"), b"");
        assert_eq!(strstrip(b""), b"");
        assert_eq!(strstrip(b"x"), b"x");
        assert_eq!(strstrip(b"\xa0\x0b\x0cx\r"), b"x");
    }

    #[test]
    fn c_strings_end_at_nul() {
        assert_eq!(c_string(b"12\0zz"), b"12");
        assert_eq!(c_string(b"\x001"), b"");
        assert_eq!(c_string(b"12"), b"12");
    }
}
