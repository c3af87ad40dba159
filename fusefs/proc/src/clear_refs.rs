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

use crate::kstrtox::{c_string, kstrtoint, strstrip};

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
    // The zeroed buffer makes it a C string: it ends at the first NUL byte.
    let value = kstrtoint(strstrip(c_string(&data[..count])), 10)?;
    if !(FIRST..=LAST).contains(&value) {
        return Err(Errno::EINVAL);
    }
    Ok(ClearRefsWrite { value, count })
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
}
