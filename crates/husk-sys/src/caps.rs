//! Capabilities need no raw system calls: `rustix::thread` wraps `capget`,
//! `capset`, `PR_CAPBSET_READ`/`PR_CAPBSET_DROP`, `PR_CAP_AMBIENT` and
//! `PR_SET_KEEPCAPS`, which is all `husk-process` uses. This module stays
//! empty until a capability call appears that `rustix` lacks.
