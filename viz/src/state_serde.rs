//! `NodeState` as its lower-case export name (`"succeeded"`, ...), for
//! `#[serde(with = "crate::state_serde")]`: the graph crate stays free of
//! serde.

use hpyx_graph::NodeState;
use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serializer};

const ALL: [NodeState; 6] = [
    NodeState::Pending,
    NodeState::Ready,
    NodeState::Running,
    NodeState::Succeeded,
    NodeState::Failed,
    NodeState::Cancelled,
];

const NAMES: &[&str] = &[
    "pending",
    "ready",
    "running",
    "succeeded",
    "failed",
    "cancelled",
];

pub(crate) fn serialize<S: Serializer>(
    state: &NodeState,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(state.as_str())
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<NodeState, D::Error> {
    let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
    ALL.into_iter()
        .find(|s| s.as_str() == name)
        .ok_or_else(|| D::Error::unknown_variant(&name, NAMES))
}
