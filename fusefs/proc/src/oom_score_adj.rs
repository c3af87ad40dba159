//! What a write to `<pid>/oom_score_adj` asks for, parsed exactly as the kernel's
//! `oom_score_adj_write` (fs/proc/base.c) parses it:
//!
//! ```c
//! char buffer[PROC_NUMBUF] = {};               /* PROC_NUMBUF is 13 */
//! if (count > sizeof(buffer) - 1)
//!         count = sizeof(buffer) - 1;          /* at most 12 bytes are looked at */
//! if (copy_from_user(buffer, buf, count))
//!         return -EFAULT;
//! err = kstrtoint(strstrip(buffer), 0, &oom_score_adj);
//! if (err)
//!         goto out;                            /* EINVAL, or ERANGE out of int range */
//! if (oom_score_adj < OOM_SCORE_ADJ_MIN || oom_score_adj > OOM_SCORE_ADJ_MAX) {
//!         err = -EINVAL;                       /* -1000..=1000 */
//!         goto out;
//! }
//! err = __set_oom_adj(file, oom_score_adj, false);   /* ESRCH, EACCES below the floor */
//! out:
//! return err < 0 ? err : count;                /* the truncated count */
//! ```
//!
//! So the buffer is a C string (a NUL byte ends it), `strstrip` drops the kernel's `isspace`
//! characters at both ends, and `kstrtoint` with base 0 takes an optional `+` or `-` and then a
//! number in the base its first digits say ([`crate::kstrtox`]): `0x10` is 16, `010` is 8,
//! `10` is 10; one trailing newline is allowed. What `__set_oom_adj` checks (the process, the
//! floor of an unprivileged writer) is the tree's and the machine's, after this parse.

use anonmap_abi::Errno;

use crate::kstrtox::{c_string, kstrtoint, strstrip};

/// `sizeof(buffer) - 1`: the most bytes of one write the kernel looks at.
pub const MAX_BYTES: usize = 12;

/// `OOM_SCORE_ADJ_MIN`: a process the OOM killer never chooses.
pub const MIN: i32 = -1000;
/// `OOM_SCORE_ADJ_MAX`.
pub const MAX: i32 = 1000;

/// A write the kernel's parse accepts: the value asked for, and the count `write(2)` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OomScoreAdjWrite {
    /// -1000 to 1000.
    pub value: i32,
    /// `data.len()` capped at [`MAX_BYTES`].
    pub count: usize,
}

/// Parses one write of `data` as `oom_score_adj_write` does; the errno is what the write fails
/// with (EINVAL for anything but an integer from -1000 to 1000, ERANGE for one out of `int`'s
/// range).
pub fn parse(data: &[u8]) -> Result<OomScoreAdjWrite, Errno> {
    let count = data.len().min(MAX_BYTES);
    let value = kstrtoint(strstrip(c_string(&data[..count])), 0)?;
    if !(MIN..=MAX).contains(&value) {
        return Err(Errno::EINVAL);
    }
    Ok(OomScoreAdjWrite { value, count })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(data: &[u8]) -> (i32, usize) {
        let w = parse(data).unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(data)));
        (w.value, w.count)
    }

    #[track_caller]
    fn assert_fails_with(data: &[u8], errno: Errno) {
        match parse(data) {
            Ok(w) => panic!("{:?} parsed as {w:?}", String::from_utf8_lossy(data)),
            Err(e) => assert_eq!(e, errno, "{:?}", String::from_utf8_lossy(data)),
        }
    }

    #[test]
    fn decimal_values_with_sign_and_white_space() {
        assert_eq!(ok(b"-500\n"), (-500, 5), "echo -500 > oom_score_adj");
        assert_eq!(ok(b"-500"), (-500, 4));
        assert_eq!(ok(b"0"), (0, 1));
        assert_eq!(ok(b"-0"), (0, 2));
        assert_eq!(ok(b"+0"), (0, 2));
        assert_eq!(ok(b"+300\n"), (300, 5));
        assert_eq!(ok(b"1000"), (1000, 4));
        assert_eq!(ok(b"-1000\n"), (-1000, 6));
        assert_eq!(ok(b"  42  \n"), (42, 7));
        assert_eq!(ok(b"\t-7\x0b"), (-7, 4));
        assert_eq!(ok(b"\r\x0c9\r\n"), (9, 5));
        assert_eq!(
            ok(b"\xa01"),
            (1, 2),
            "0xA0 is white space in the kernel's table"
        );
        assert_eq!(
            ok(b"1\n\n"),
            (1, 3),
            "strstrip takes every trailing newline"
        );
    }

    #[test]
    fn base_zero_reads_hex_and_octal() {
        assert_eq!(ok(b"0x10"), (16, 4));
        assert_eq!(ok(b"0X10\n"), (16, 5));
        assert_eq!(ok(b"0x3e8"), (1000, 5));
        assert_eq!(ok(b"-0x3E8"), (-1000, 6));
        assert_eq!(ok(b"+0x1f"), (31, 5));
        assert_eq!(ok(b"010"), (8, 3), "a leading 0 is octal");
        assert_eq!(ok(b"-010"), (-8, 4));
        assert_eq!(ok(b"0"), (0, 1));
        assert_eq!(ok(b"00"), (0, 2));
        assert_eq!(ok(b"01750"), (1000, 5));
        assert_eq!(ok(b"-01750"), (-1000, 6));
        // Not a digit of the base picked: EINVAL.
        assert_fails_with(b"08", Errno::EINVAL);
        assert_fails_with(b"09\n", Errno::EINVAL);
        assert_fails_with(b"0x", Errno::EINVAL);
        assert_fails_with(b"0xg", Errno::EINVAL);
        assert_fails_with(b"0b1", Errno::EINVAL);
        assert_fails_with(b"x10", Errno::EINVAL);
    }

    #[test]
    fn only_the_first_twelve_bytes_count() {
        // "-1" and 20 spaces: the first 12 bytes strip to "-1"; the write reports 12 bytes.
        let mut data = b"-1".to_vec();
        data.extend([b' '; 20]);
        assert_eq!(ok(&data), (-1, MAX_BYTES));
        assert_eq!(ok(b"          -3garbage"), (-3, 12));
        assert_eq!(ok(b"000000000777"), (0o777, 12), "twelve bytes, octal");
        assert_eq!(ok(b"0000000000001"), (0, 12), "the 13th byte is cut off");
        assert_eq!(ok(b"-00000000001000"), (-1, 12), "cut to -00000000001");
        // What write_all sends next is a write of its own.
        assert_fails_with(&data[MAX_BYTES..], Errno::EINVAL);
    }

    #[test]
    fn a_nul_byte_ends_the_string() {
        assert_eq!(ok(b"-5\0zz"), (-5, 5));
        assert_fails_with(b"\0-5", Errno::EINVAL);
    }

    #[test]
    fn not_a_number_is_einval() {
        for data in [
            &b"abc"[..],
            b"",
            b" ",
            b"\n",
            b"-",
            b"+",
            b"+-1",
            b"-+1",
            b"--1",
            b"++1",
            b"1 2",
            b"1x",
            b"1.0",
            b"1e3",
            b"- 1",
            b"1\n1",
            b"\xff",
        ] {
            assert_fails_with(data, Errno::EINVAL);
        }
    }

    #[test]
    fn numbers_outside_the_range_are_einval() {
        for data in [
            &b"1001"[..],
            b"-1001",
            b"0x3e9",
            b"01751",
            b"2147483647",
            b"-2147483648",
            b"0x7fffffff",
        ] {
            assert_fails_with(data, Errno::EINVAL);
        }
    }

    #[test]
    fn numbers_outside_int_are_erange() {
        for data in [
            &b"2147483648"[..],
            b"-2147483649",
            b"+2147483648",
            b"99999999999",
            b"-99999999999",
            b"0x80000000",
            b"-0x80000001",
            b"0xffffffffff",
            b"020000000000",
        ] {
            assert_fails_with(data, Errno::ERANGE);
        }
    }
}
