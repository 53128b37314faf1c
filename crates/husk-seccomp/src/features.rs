use oci_spec::runtime::Seccomp;

use crate::plan::{filter_flag_bit, scmp_arch, ACTIONS, ARCHITECTURES, FLAGS, OPERATORS};
use crate::sys;

/// The `linux.seccomp` part of `husk features` (features-linux.md).
///
/// `archs` lists the architectures the linked libseccomp knows, since any
/// other one is rejected; `supportedFlags` is probed on the running kernel
/// with one cheap, side-effect-free `seccomp(2)` call per flag.
pub fn features() -> Seccomp {
    let mut features = Seccomp::default();
    features.set_enabled(Some(true));
    features.set_actions(Some(ACTIONS.to_vec()));
    features.set_operators(Some(OPERATORS.iter().map(ToString::to_string).collect()));
    features.set_archs(Some(
        ARCHITECTURES
            .into_iter()
            .filter(|&arch| scmp_arch(arch).is_some())
            .collect(),
    ));
    features.set_known_flags(Some(FLAGS.iter().map(ToString::to_string).collect()));
    features.set_supported_flags(Some(
        FLAGS
            .iter()
            .filter(|&&flag| {
                let mut bits = filter_flag_bit(flag);
                // The kernel only accepts it together with a listener.
                if bits == libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV {
                    bits |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
                }
                sys::filter_flags_known(bits)
            })
            .map(ToString::to_string)
            .collect(),
    ));
    features
}
