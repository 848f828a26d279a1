//! Virtual-circuit (TCP) state machine for both roles: bytes in, typed commands out, channel states.
