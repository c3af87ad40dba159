//! `/proc/<pid>/oom_score` and `/proc/<pid>/oom_score_adj` (fs/proc/base.c).
//!
//! - `oom_score`: `proc_oom_score`, `seq_printf(m, "%lu\n", points)`.
//! - `oom_score_adj`: `oom_score_adj_read`, `snprintf(buffer, sizeof(buffer), "%hd\n",
//!   oom_score_adj)`: the signed value in decimal, `-` for a negative one.

use super::fmt::dec;
use crate::view::OomView;

/// Appends the oom_score file.
pub fn render_oom_score(v: &OomView, out: &mut Vec<u8>) {
    dec(out, v.score);
    out.push(b'\n');
}

/// Appends the oom_score_adj file.
pub fn render_oom_score_adj(v: &OomView, out: &mut Vec<u8>) {
    out.extend_from_slice(itoa::Buffer::new().format(v.score_adj).as_bytes());
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::super::fmt::text;
    use super::*;

    #[test]
    fn one_number_and_a_newline() {
        let v = |score, score_adj| OomView {
            score,
            score_adj,
            score_adj_min: 0,
        };
        assert_eq!(text(|o| render_oom_score(&v(0, 0), o)), "0\n");
        assert_eq!(text(|o| render_oom_score(&v(666, 0), o)), "666\n");
        assert_eq!(text(|o| render_oom_score(&v(2000, 0), o)), "2000\n");
        for (adj, want) in [
            (0, "0\n"),
            (-500, "-500\n"),
            (1000, "1000\n"),
            (-1000, "-1000\n"),
            (7, "7\n"),
        ] {
            assert_eq!(text(|o| render_oom_score_adj(&v(0, adj), o)), want);
        }
    }
}
