//! The balance table as Markdown.

use crate::estimators::Balance;
use crate::report::numbers::{label, number, p_value};

impl Balance {
    /// A balance table in the style of a trial report (Markdown): mean (sd)
    /// or share per arm, difference, SMD and p, then the joint test.
    pub fn to_markdown(&self) -> String {
        let (num, p) = (number, p_value);
        let mut s = String::from(
            "| Covariate | Treatment | Control | Difference | SMD | p |\n|---|---:|---:|---:|---:|---:|\n",
        );
        for r in &self.rows {
            let missing = r.missing_treat + r.missing_control;
            let note = if missing > 0 {
                format!(" ({missing} missing)")
            } else {
                String::new()
            };
            let covariate = label(&r.covariate);
            let line = match (&r.level, r.test) {
                (Some(level), _) => format!(
                    "| {covariate} = {} | {}% | {}% | {} pp | {} | {} |",
                    label(level),
                    num(r.mean_treat.map(|x| 100.0 * x), 1),
                    num(r.mean_control.map(|x| 100.0 * x), 1),
                    num(r.diff.map(|x| 100.0 * x), 1),
                    num(r.smd, 3),
                    if r.test.is_some() {
                        p(r.p_value)
                    } else {
                        String::new()
                    },
                ),
                (None, Some("chi-square")) => format!(
                    "| {covariate}{note} | n = {} | n = {} | | | {} |",
                    r.n_treat,
                    r.n_control,
                    p(r.p_value)
                ),
                // A categorical covariate of a clustered design: its levels
                // carry the tests.
                (None, None) => format!(
                    "| {covariate}{note} | n = {} | n = {} | | | |",
                    r.n_treat, r.n_control
                ),
                _ => format!(
                    "| {covariate}{note} | {} ({}) | {} ({}) | {} | {} | {} |",
                    num(r.mean_treat, 2),
                    num(r.sd_treat, 2),
                    num(r.mean_control, 2),
                    num(r.sd_control, 2),
                    num(r.diff, 2),
                    num(r.smd, 3),
                    p(r.p_value)
                ),
            };
            s.push_str(&line);
            s.push('\n');
        }
        let j = &self.joint;
        s.push_str(&format!(
            "\nJoint test (OLS of treatment on all covariates{}, n = {}{}): ",
            if j.block_effects {
                ", block fixed effects"
            } else {
                ""
            },
            j.n[0] + j.n[1],
            j.clusters.map_or(String::new(), |g| format!(
                "; cluster-robust Wald F over {g} clusters"
            )),
        ));
        match (j.f, j.df1, j.df2) {
            (Some(f), Some(d1), Some(d2)) => {
                s.push_str(&format!("F({d1}, {d2}) = {f:.3}, p = {}\n", p(j.p_value)));
            }
            _ => {
                s.push_str(&format!(
                    "undefined ({})\n",
                    j.note.as_deref().unwrap_or("–")
                ));
            }
        }
        s
    }
}
