//! `names`: the table of anon VMA name objects (`struct anon_vma_name`).
//!
//! anonmap's own file; the format is ours. A header line, then one line per object in the order
//! given, fields separated by single spaces:
//!
//! ```text
//! id refcount vmas pids name
//! <id> <refcount> <vmas> <pids> <name>
//! ```
//!
//! `id`, `refcount` and `vmas` are decimal. `pids` is the ascending pid list joined by commas, or
//! `-` when no process maps the object. The name is everything after the fourth space up to the
//! end of the line, verbatim: it may contain spaces, `/` and `:` and is never quoted or truncated
//! (an empty name leaves the line ending in that fourth space). Split a line with
//! `splitn(5, ' ')`. Example:
//!
//! ```text
//! id refcount vmas pids name
//! 3 2 2 1,4 dalvik-main space
//! 9 1 1 7  glibc: malloc arena
//! ```

use super::fmt::dec;
use crate::view::NameObjectView;

/// Appends the header line and one line per name object.
pub fn render_names(objs: &[NameObjectView], out: &mut Vec<u8>) {
    out.extend_from_slice(b"id refcount vmas pids name\n");
    for o in objs {
        dec(out, o.id);
        out.push(b' ');
        dec(out, o.refcount);
        out.push(b' ');
        dec(out, o.vmas);
        out.push(b' ');
        if o.pids.is_empty() {
            out.push(b'-');
        }
        for (i, &pid) in o.pids.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            dec(out, pid.into());
        }
        out.push(b' ');
        out.extend_from_slice(o.text.as_bytes());
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(id: u64, refcount: u64, vmas: u64, pids: &[u32], text: &str) -> NameObjectView {
        NameObjectView {
            id,
            text: text.into(),
            refcount,
            vmas,
            pids: pids.to_vec(),
        }
    }

    fn render(objs: &[NameObjectView]) -> String {
        crate::render::fmt::text(|out| render_names(objs, out))
    }

    #[test]
    fn lines_with_awkward_names() {
        let got = render(&[
            obj(3, 2, 2, &[1, 4], "dalvik-main space"),
            obj(9, 1, 1, &[7], " glibc: malloc arena"),
            obj(10, 3, 2, &[2], "a/b:c"),
            obj(11, 0, 0, &[], ""),
        ]);
        assert_eq!(
            got,
            "id refcount vmas pids name\n\
             3 2 2 1,4 dalvik-main space\n\
             9 1 1 7  glibc: malloc arena\n\
             10 3 2 2 a/b:c\n\
             11 0 0 - \n"
        );
        for (line, name) in
            got.lines()
                .skip(1)
                .zip(["dalvik-main space", " glibc: malloc arena", "a/b:c", ""])
        {
            assert_eq!(line.splitn(5, ' ').nth(4), Some(name));
        }
    }

    #[test]
    fn empty_table_is_just_the_header() {
        assert_eq!(render(&[]), "id refcount vmas pids name\n");
    }

    #[test]
    fn long_names_are_not_truncated() {
        let long = "n".repeat(79);
        let got = render(&[obj(1, 1, 1, &[100000, 100001], &long)]);
        assert_eq!(
            got.lines().nth(1).unwrap(),
            format!("1 1 1 100000,100001 {long}")
        );
    }
}
