//! Triage guides: what an analyst does with an alert, for the seed rule's three branches and
//! for every stateful rule of the `elastic` and `extended` profiles.
//!
//! The text is `docs/triage/*.md`, embedded at build time with `include_str!`: the docs and the
//! metadata ([`Metadata::guide`](crate::rule::Metadata::guide),
//! [`Metadata::branch_guides`](crate::rule::Metadata::branch_guides)) are the same bytes and
//! cannot drift. Each guide is Markdown whose level-2 headings are [`SECTIONS`], in that order
//! (`docs/triage/README.md` describes the shape; tests check it).

use crate::rule::Branch;

/// The level-2 headings every guide has, in order: investigation, false-positive analysis
/// (tied to the exceptions file's families), response playbook, hunting pivots.
pub const SECTIONS: [&str; 4] = ["Investigation", "False positives", "Response", "Hunting pivots"];

/// The guide of one branch of the seed rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BranchGuide {
    /// The branch it is about.
    pub branch: Branch,
    /// The guide (Markdown).
    pub guide: &'static str,
}

/// The seed rule's guide, common to its branches (`docs/triage/seed.md`).
pub const SEED: &str = include_str!("../../docs/triage/seed.md");

/// The seed rule's branch guides, in [`Branch::ALL`] order (`docs/triage/seed_<branch>.md`).
pub const SEED_BRANCHES: [BranchGuide; 3] = [
    BranchGuide { branch: Branch::OfficeChild, guide: include_str!("../../docs/triage/seed_office_child.md") },
    BranchGuide { branch: Branch::Dcomcnfg, guide: include_str!("../../docs/triage/seed_dcomcnfg.md") },
    BranchGuide { branch: Branch::DcomCommandLine, guide: include_str!("../../docs/triage/seed_dcom_command_line.md") },
];

/// The `extended` profile's D2 (`docs/triage/d2.md`).
pub const D2: &str = include_str!("../../docs/triage/d2.md");
/// The `extended` profile's D2L (`docs/triage/d2l.md`).
pub const D2L: &str = include_str!("../../docs/triage/d2l.md");
/// The `extended` profile's D3 (`docs/triage/d3.md`).
pub const D3: &str = include_str!("../../docs/triage/d3.md");
/// The `elastic` profile's MMC20 rule (`docs/triage/mmc20.md`).
pub const MMC20: &str = include_str!("../../docs/triage/mmc20.md");
/// The `elastic` profile's ShellWindows rule (`docs/triage/shellwindows.md`).
pub const SHELLWINDOWS: &str = include_str!("../../docs/triage/shellwindows.md");
/// The `elastic` profile's HTA rule (`docs/triage/hta.md`).
pub const HTA: &str = include_str!("../../docs/triage/hta.md");

impl Branch {
    /// The branch's triage guide (`docs/triage/seed_<name>.md`). O(1).
    pub fn guide(self) -> &'static str {
        SEED_BRANCHES[self as usize].guide
    }
}

/// The level-2 headings of a Markdown guide, in order (lines starting with `## `). O(length).
pub fn sections(guide: &str) -> impl Iterator<Item = &str> {
    guide.lines().filter_map(|line| line.strip_prefix("## ")).map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_guides_are_in_branch_order_and_name_their_branch() {
        for (i, branch) in Branch::ALL.into_iter().enumerate() {
            assert_eq!(SEED_BRANCHES[i].branch, branch);
            assert!(branch.guide().contains(&format!("`{}`", branch.name())), "{branch}");
        }
    }

    #[test]
    fn every_guide_has_the_four_sections_in_order() {
        for guide in [SEED, D2, D2L, D3, MMC20, SHELLWINDOWS, HTA].into_iter().chain(SEED_BRANCHES.map(|b| b.guide)) {
            assert!(guide.starts_with("# "), "{guide}");
            assert_eq!(sections(guide).collect::<Vec<_>>(), SECTIONS, "{}", guide.lines().next().unwrap());
        }
    }
}
