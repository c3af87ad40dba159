//! What a write to `<pid>/clear_refs` asks for, parsed exactly as the kernel's
//! `clear_refs_write` (fs/proc/task_mmu.c) parses it:
//!
//! ```c
//! char buffer[PROC_NUMBUF] = {};               /* PROC_NUMBUF is 13 */
//! if (count > sizeof(buffer) - 1)
//!         count = sizeof(buffer) - 1;          /* at most 12 bytes are looked at */
//! if (copy_from_user(buffer, buf, count))
//!         return -EFAULT;
//! rv = kstrtoint(strstrip(buffer), 10, &itype);
//! if (rv < 0)
//!         return rv;                           /* EINVAL, or ERANGE out of int range */
//! if (type < CLEAR_REFS_ALL || type >= CLEAR_REFS_LAST)
//!         return -EINVAL;                      /* 1..=5 */
//! ...
//! return count;                                /* the truncated count */
//! ```
//!
//! So the buffer is a C string (a NUL byte ends it), `strstrip` drops the kernel's `isspace`
//! characters at both ends (tab, newline, vertical tab, form feed, carriage return, space and,
//! in the kernel's Latin-1 table, 0xA0), and `kstrtoint` takes an optional `+` or `-` and
//! decimal digits only, one trailing newline allowed. A successful write reports the truncated
//! count: a longer write is short, and `write_all`'s next write parses the rest on its own, as
//! on Linux.

use anonmap_abi::Errno;

/// `sizeof(buffer) - 1`: the most bytes of one write the kernel looks at.
pub const MAX_BYTES: usize = 12;

/// The first value `clear_refs` takes (`CLEAR_REFS_ALL`).
pub const FIRST: i32 = 1;
/// The last value `clear_refs` takes (`CLEAR_REFS_MM_HIWATER_RSS`).
pub const LAST: i32 = 5;

/// A write the kernel accepts: the value asked for, and the count `write(2)` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClearRefsWrite {
    /// 1 to 5.
    pub value: i32,
    /// `data.len()` capped at [`MAX_BYTES`].
    pub count: usize,
}

/// Parses one write of `data` as `clear_refs_write` does; the errno is what the write fails
/// with (EINVAL for anything but an integer from 1 to 5, ERANGE for one out of `int`'s range).
pub fn parse(data: &[u8]) -> Result<ClearRefsWrite, Errno> {
    let count = data.len().min(MAX_BYTES);
    let buffer = &data[..count];
    // The zeroed buffer makes it a C string: it ends at the first NUL byte.
    let c_string = match buffer.iter().position(|&b| b == 0) {
        Some(nul) => &buffer[..nul],
        None => buffer,
    };
    let value = kstrtoint(strstrip(c_string))?;
    if !(FIRST..=LAST).contains(&value) {
        return Err(Errno::EINVAL);
    }
    Ok(ClearRefsWrite { value, count })
}

/// The kernel's `isspace` (lib/ctype.c): `\t \n \v \f \r`, space, and 0xA0 (no-break space in
/// its Latin-1 table).
fn is_kernel_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0xa0)
}

/// `strstrip` (`strim`): without the trailing, then the leading, white space.
fn strstrip(s: &[u8]) -> &[u8] {
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

/// `kstrtoint(s, 10, &res)`: `kstrtoll`, then ERANGE unless the value fits an `int`.
fn kstrtoint(s: &[u8]) -> Result<i32, Errno> {
    i32::try_from(kstrtoll(s)?).map_err(|_| Errno::ERANGE)
}

/// `kstrtoll(s, 10, &res)`: a `-` and the magnitude (ERANGE beyond `i64::MIN`), or an
/// optional `+` and the value (ERANGE beyond `i64::MAX`).
fn kstrtoll(s: &[u8]) -> Result<i64, Errno> {
    if let Some(rest) = s.strip_prefix(b"-") {
        let tmp = kstrtoull_unsigned(rest)?;
        // `if ((long long)-tmp > 0) return -ERANGE;`
        let negated = tmp.wrapping_neg() as i64;
        if negated > 0 {
            return Err(Errno::ERANGE);
        }
        Ok(negated)
    } else {
        let rest = s.strip_prefix(b"+").unwrap_or(s);
        let tmp = kstrtoull_unsigned(rest)?;
        i64::try_from(tmp).map_err(|_| Errno::ERANGE)
    }
}

/// `_kstrtoull(s, 10, &res)`: decimal digits (ERANGE on overflow, which is checked first;
/// EINVAL for none), then at most one newline and nothing else.
fn kstrtoull_unsigned(s: &[u8]) -> Result<u64, Errno> {
    let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    let mut value = 0u64;
    let mut overflow = false;
    for &b in &s[..digits] {
        match value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
        {
            Some(v) => value = v,
            None => {
                overflow = true;
                value = value.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
            }
        }
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

    fn ok(data: &[u8]) -> (i32, usize) {
        let w = parse(data).unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(data)));
        (w.value, w.count)
    }

    fn fails(data: &[u8]) -> Errno {
        match parse(data) {
            Ok(w) => panic!("{:?} parsed as {w:?}", String::from_utf8_lossy(data)),
            Err(e) => e,
        }
    }

    #[track_caller]
    fn assert_fails_with(data: &[u8], errno: Errno) {
        assert_eq!(fails(data), errno, "{:?}", String::from_utf8_lossy(data));
    }

    #[test]
    fn the_five_values_with_and_without_white_space() {
        for v in 1..=5 {
            let s = v.to_string();
            assert_eq!(ok(s.as_bytes()), (v, 1));
            assert_eq!(ok(format!("{s}\n").as_bytes()), (v, 2));
            assert_eq!(ok(format!("+{s}").as_bytes()), (v, 2));
        }
        assert_eq!(ok(b"1\n"), (1, 2), "echo 1 > clear_refs");
        assert_eq!(ok(b"  3  \n"), (3, 6));
        assert_eq!(ok(b"\t4\x0b"), (4, 3));
        assert_eq!(ok(b"\r\x0c5\r\n"), (5, 5));
        assert_eq!(
            ok(b"\xa01"),
            (1, 2),
            "0xA0 is white space in the kernel's table"
        );
        assert_eq!(ok(b"1\n\n"), (1, 3));
        assert_eq!(ok(b"0002"), (2, 4));
    }

    #[test]
    fn only_the_first_twelve_bytes_count() {
        // "1" and 20 spaces: the first 12 bytes strip to "1"; the write reports 12 bytes.
        let mut data = b"1".to_vec();
        data.extend([b' '; 20]);
        assert_eq!(ok(&data), (1, MAX_BYTES));
        // What follows the twelfth byte is never looked at.
        assert_eq!(ok(b"           2garbage"), (2, 12));
        assert_eq!(ok(b"000000000003"), (3, 12));
        assert_eq!(ok(b"0000000000035"), (3, 12), "the 13th digit is cut off");
        // ... and what write_all sends next is a write of its own.
        assert_eq!(fails(&data[MAX_BYTES..]), Errno::EINVAL);
    }

    #[test]
    fn a_nul_byte_ends_the_string() {
        assert_eq!(ok(b"1\0zz"), (1, 4));
        assert_eq!(fails(b"\x001"), Errno::EINVAL);
    }

    #[test]
    fn not_a_number_is_einval() {
        for data in [
            &b"abc"[..],
            b"x",
            b"",
            b" ",
            b"\n",
            b"5 5",
            b"1x",
            b"0x1",
            b"1.0",
            b"+",
            b"-",
            b"+-1",
            b"-+1",
            b"++1",
            b"1\n1",
            b"\xff",
        ] {
            assert_fails_with(data, Errno::EINVAL);
        }
    }

    #[test]
    fn numbers_outside_one_to_five_are_einval() {
        for data in [
            &b"0"[..],
            b"-0",
            b"6",
            b"7",
            b"-1",
            b"012",
            b"2147483647",
            b"-2147483648",
        ] {
            assert_fails_with(data, Errno::EINVAL);
        }
    }

    #[test]
    fn numbers_outside_int_are_erange() {
        for data in [
            &b"99999999999"[..],
            b"2147483648",
            b"-2147483649",
            b"+2147483648",
            b"999999999999",
            b"-99999999999",
        ] {
            assert_fails_with(data, Errno::ERANGE);
        }
    }

    #[test]
    fn kstrtoll_bounds_and_overflow() {
        assert_eq!(kstrtoll(b"9223372036854775807"), Ok(i64::MAX));
        assert_eq!(kstrtoll(b"9223372036854775808"), Err(Errno::ERANGE));
        assert_eq!(kstrtoll(b"-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(kstrtoll(b"-9223372036854775809"), Err(Errno::ERANGE));
        assert_eq!(kstrtoll(b"18446744073709551616"), Err(Errno::ERANGE));
        // Overflow is reported before the junk after the digits.
        assert_eq!(kstrtoll(b"99999999999999999999x"), Err(Errno::ERANGE));
        assert_eq!(kstrtoll(b"-0"), Ok(0));
        assert_eq!(kstrtoll(b"42\n"), Ok(42));
    }

    #[test]
    fn strstrip_trims_both_ends() {
        assert_eq!(strstrip(b"  a b \n"), b"a b");
        assert_eq!(strstrip(b" \t\n"), b"");
        assert_eq!(strstrip(b""), b"");
        assert_eq!(strstrip(b"x"), b"x");
    }
}
