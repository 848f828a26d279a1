//! UDP side of CA: search requests and replies, beacons, repeater registration, and their state.
