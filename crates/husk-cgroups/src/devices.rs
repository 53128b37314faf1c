//! `linux.resources.devices`: the device allow-list, as v1 `devices.allow` /
//! `devices.deny` lines or as a cgroup v2 eBPF device program.

use husk_sys::bpf::Insn;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::Error;

const ACCESS_MKNOD: u8 = 1;
const ACCESS_READ: u8 = 2;
const ACCESS_WRITE: u8 = 4;
const ACCESS_ALL: u8 = ACCESS_MKNOD | ACCESS_READ | ACCESS_WRITE;

/// One validated entry of `linux.resources.devices`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeviceRule {
    pub allow: bool,
    /// `None` = every device (`a`): the entry only changes the default.
    pub kind: Option<DeviceKind>,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// Bit set of `ACCESS_*`.
    pub access: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeviceKind {
    Block,
    Char,
}

pub(crate) fn parse_rules(devices: &[LinuxDeviceCgroup]) -> Result<Vec<DeviceRule>, Error> {
    devices
        .iter()
        .enumerate()
        .map(|(i, d)| parse_rule(i, d))
        .collect()
}

fn parse_rule(index: usize, d: &LinuxDeviceCgroup) -> Result<DeviceRule, Error> {
    let field = |name: &str| format!("linux.resources.devices[{index}]{name}");
    let kind = match d.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => None,
        LinuxDeviceType::B => Some(DeviceKind::Block),
        // `u` (unbuffered char) is a device-node type; the cgroup only knows char.
        LinuxDeviceType::C | LinuxDeviceType::U => Some(DeviceKind::Char),
        LinuxDeviceType::P => {
            return Err(Error::Invalid {
                field: field(".type"),
                reason: "\"p\" (FIFO) is not a cgroup device type; use a, b or c".into(),
            })
        }
    };
    let number = |value: Option<i64>, name: &str| -> Result<Option<u32>, Error> {
        match value {
            // -1 is how some callers spell the `*` wildcard.
            None | Some(-1) => Ok(None),
            Some(n) if (0..=i64::from(i32::MAX)).contains(&n) => Ok(Some(n as u32)),
            Some(n) => Err(Error::Invalid {
                field: field(name),
                reason: format!("{n} is not a device number"),
            }),
        }
    };
    let major = number(d.major(), ".major")?;
    let minor = number(d.minor(), ".minor")?;
    let access = match d.access().as_deref() {
        None | Some("") => ACCESS_ALL,
        Some(s) => s.chars().try_fold(0u8, |bits, c| match c {
            'r' => Ok(bits | ACCESS_READ),
            'w' => Ok(bits | ACCESS_WRITE),
            'm' => Ok(bits | ACCESS_MKNOD),
            _ => Err(Error::Invalid {
                field: field(".access"),
                reason: format!("{s:?}: only the letters r, w and m are allowed"),
            }),
        })?,
    };
    if kind.is_none() && (major.is_some() || minor.is_some() || access != ACCESS_ALL) {
        // cgroup v1 treats every `a` entry as "all devices, all access", so a
        // narrower one would mean different things on v1 and v2.
        return Err(Error::Invalid {
            field: field(""),
            reason: "an entry of type \"a\" must cover every device (no major/minor) with access \"rwm\"".into(),
        });
    }
    Ok(DeviceRule {
        allow: d.allow(),
        kind,
        major,
        minor,
        access,
    })
}

impl DeviceRule {
    /// The line for v1 `devices.allow`/`devices.deny` (`c 1:3 rw`, or `a`).
    pub fn v1_line(&self) -> String {
        let kind = match self.kind {
            None => return "a".into(),
            Some(DeviceKind::Block) => 'b',
            Some(DeviceKind::Char) => 'c',
        };
        let number = |n: Option<u32>| n.map_or_else(|| "*".to_owned(), |n| n.to_string());
        let access: String = [(ACCESS_READ, 'r'), (ACCESS_WRITE, 'w'), (ACCESS_MKNOD, 'm')]
            .iter()
            .filter(|(bit, _)| self.access & bit != 0)
            .map(|(_, c)| *c)
            .collect();
        format!(
            "{kind} {}:{} {access}",
            number(self.major),
            number(self.minor)
        )
    }
}

// eBPF opcodes (linux/bpf_common.h, linux/bpf.h).
const LDX_MEM_W: u8 = 0x61;
const ALU32_MOV_REG: u8 = 0xbc;
const ALU32_RSH_IMM: u8 = 0x74;
const ALU32_AND_IMM: u8 = 0x54;
const ALU64_MOV_IMM: u8 = 0xb7;
const JMP_JNE_IMM: u8 = 0x55;
const JMP_EXIT: u8 = 0x95;

// struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; },
// access_type = (access << 16) | type.
const DEV_TYPE_BLOCK: i32 = 1;
const DEV_TYPE_CHAR: i32 = 2;
const R_TYPE: u8 = 2;
const R_ACCESS: u8 = 3;
const R_MAJOR: u8 = 4;
const R_MINOR: u8 = 5;
const R_SCRATCH: u8 = 1;

/// Builds a `BPF_PROG_TYPE_CGROUP_DEVICE` program deciding like the v1
/// allow-list: the last matching rule wins, and without any match the
/// device is allowed (a v1 cgroup starts from its parent's allow-all).
/// The rules are tested last to first; the first hit returns.
pub(crate) fn program(rules: &[DeviceRule]) -> Vec<Insn> {
    let mut insns = vec![
        Insn::new(LDX_MEM_W, R_TYPE, 1, 0, 0),
        Insn::new(ALU32_MOV_REG, R_ACCESS, R_TYPE, 0, 0),
        Insn::new(ALU32_RSH_IMM, R_ACCESS, 0, 0, 16),
        Insn::new(ALU32_AND_IMM, R_TYPE, 0, 0, 0xffff),
        Insn::new(LDX_MEM_W, R_MAJOR, 1, 4, 0),
        Insn::new(LDX_MEM_W, R_MINOR, 1, 8, 0),
    ];
    for rule in rules.iter().rev() {
        // Each condition is (instructions computing the register, register,
        // expected value); on mismatch jump past the end of this rule's block.
        let mut conditions: Vec<(Vec<Insn>, u8, i32)> = Vec::new();
        if let Some(kind) = rule.kind {
            conditions.push((
                vec![],
                R_TYPE,
                if kind == DeviceKind::Block {
                    DEV_TYPE_BLOCK
                } else {
                    DEV_TYPE_CHAR
                },
            ));
        }
        if let Some(major) = rule.major {
            conditions.push((vec![], R_MAJOR, major as i32));
        }
        if let Some(minor) = rule.minor {
            conditions.push((vec![], R_MINOR, minor as i32));
        }
        if rule.access != ACCESS_ALL {
            // Match only if the request asks for nothing outside the rule's access.
            let outside = i32::from(!rule.access & ACCESS_ALL);
            let masked = vec![
                Insn::new(ALU32_MOV_REG, R_SCRATCH, R_ACCESS, 0, 0),
                Insn::new(ALU32_AND_IMM, R_SCRATCH, 0, 0, outside),
            ];
            conditions.push((masked, R_SCRATCH, 0));
        }
        let unconditional = conditions.is_empty();
        let block_len = conditions
            .iter()
            .map(|(pre, _, _)| pre.len() + 1)
            .sum::<usize>()
            + 2;
        let mut emitted = 0usize;
        for (pre, reg, imm) in conditions {
            emitted += pre.len() + 1;
            insns.extend(pre);
            let skip = (block_len - emitted) as i16;
            insns.push(Insn::new(JMP_JNE_IMM, reg, 0, skip, imm));
        }
        insns.push(Insn::new(ALU64_MOV_IMM, 0, 0, 0, i32::from(rule.allow)));
        insns.push(Insn::new(JMP_EXIT, 0, 0, 0, 0));
        if unconditional {
            // Earlier rules can never be reached.
            return insns;
        }
    }
    insns.push(Insn::new(ALU64_MOV_IMM, 0, 0, 0, 1));
    insns.push(Insn::new(JMP_EXIT, 0, 0, 0, 0));
    insns
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(json: &str) -> Vec<DeviceRule> {
        parse_rules(&serde_json::from_str::<Vec<LinuxDeviceCgroup>>(json).unwrap()).unwrap()
    }

    /// Runs the generated program on one access, as the kernel would.
    fn run(prog: &[Insn], kind: i32, access: u8, major: u32, minor: u32) -> bool {
        let ctx = [((access as u32) << 16) | kind as u32, major, minor];
        let mut reg = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0x0f) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_MEM_W => reg[dst] = u64::from(ctx[i.off as usize / 4]),
                ALU32_MOV_REG => reg[dst] = reg[src] & 0xffff_ffff,
                ALU32_RSH_IMM => reg[dst] = (reg[dst] as u32 >> i.imm) as u64,
                ALU32_AND_IMM => reg[dst] = (reg[dst] as u32 & i.imm as u32) as u64,
                ALU64_MOV_IMM => reg[dst] = i.imm as i64 as u64,
                JMP_JNE_IMM => {
                    if reg[dst] != i.imm as i64 as u64 {
                        pc = (pc as i64 + i64::from(i.off)) as usize;
                    }
                }
                JMP_EXIT => return reg[0] == 1,
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    #[test]
    fn v1_lines() {
        let r = rules(
            r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"mrw"},{"allow":true,"type":"b","major":8,"access":"r"}]"#,
        );
        let lines: Vec<String> = r.iter().map(DeviceRule::v1_line).collect();
        assert_eq!(lines, ["a", "c 1:3 rwm", "b 8:* r"]);
    }

    #[test]
    fn program_last_match_wins_with_deny_all_first() {
        let prog = program(&rules(
            r#"[{"allow":false,"access":"rwm"},
                {"allow":true,"type":"c","major":1,"minor":3,"access":"rw"},
                {"allow":true,"type":"c","major":136,"access":"rwm"},
                {"allow":false,"type":"c","major":136,"minor":5,"access":"w"}]"#,
        ));
        let (c, b) = (DEV_TYPE_CHAR, DEV_TYPE_BLOCK);
        assert!(run(&prog, c, ACCESS_READ | ACCESS_WRITE, 1, 3));
        assert!(!run(&prog, c, ACCESS_MKNOD, 1, 3), "m not granted");
        assert!(!run(&prog, b, ACCESS_READ, 1, 3), "type must match");
        assert!(!run(&prog, c, ACCESS_READ, 1, 5), "minor must match");
        assert!(run(&prog, c, ACCESS_MKNOD, 136, 9), "major wildcard minor");
        assert!(run(&prog, c, ACCESS_READ, 136, 5));
        assert!(!run(&prog, c, ACCESS_WRITE, 136, 5), "later deny overrides");
        // The deny-all entry is unconditional: nothing before it is emitted
        // and nothing falls through to the default.
        assert_eq!(prog.iter().filter(|i| i.code == JMP_EXIT).count(), 4);
    }

    #[test]
    fn program_without_catch_all_defaults_to_allow() {
        let prog = program(&rules(
            r#"[{"allow":false,"type":"b","major":8,"minor":0,"access":"w"}]"#,
        ));
        assert!(!run(&prog, DEV_TYPE_BLOCK, ACCESS_WRITE, 8, 0));
        assert!(run(&prog, DEV_TYPE_BLOCK, ACCESS_READ, 8, 0));
        assert!(run(&prog, DEV_TYPE_CHAR, ACCESS_WRITE, 1, 3));
    }

    #[test]
    fn p_type_is_rejected() {
        let list: Vec<LinuxDeviceCgroup> =
            serde_json::from_str(r#"[{"allow":true,"type":"p"}]"#).unwrap();
        assert!(
            matches!(parse_rules(&list), Err(Error::Invalid { field, .. }) if field == "linux.resources.devices[0].type")
        );
    }
}
