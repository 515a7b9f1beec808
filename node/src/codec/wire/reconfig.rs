//! A forwarded `reconfig` in a REQUEST packet: ZooKeeper's `ReconfigRequest` jute record
//! (joiningServers, leavingServers, newMembers, curConfigId), as a learner forwards a client's
//! reconfig under opcode 16. The requester's ids travel in the packet's authinfo (see
//! [`super::encode_quorum`]).

use zablab_core::config::LearnerType;
use zablab_core::reconfig::ReconfigRequest;
use zablab_core::zxid::{Sid, Zxid};

use crate::codec::jute::{self, malformed, JuteError, Reader};

/// A member's `server.N=spec` for the jute strings: the client's spec, or, for a member the
/// request gives no spec for (only ZabLab's own requests lack one; a ZooKeeper client always
/// writes addresses), its role word alone, which [`read_reconfig_request`] reads back as
/// "no spec".
fn member_line(request: &ReconfigRequest, sid: Sid, role: LearnerType) -> String {
    match request.spec_of(sid) {
        Some(spec) => format!("server.{sid}={spec}"),
        None => format!("server.{sid}={}", role_word(role)),
    }
}

fn role_word(role: LearnerType) -> &'static str {
    match role {
        LearnerType::Participant => "participant",
        LearnerType::Observer => "observer",
    }
}

fn member_list(request: &ReconfigRequest, members: &[(Sid, LearnerType)]) -> String {
    let lines: Vec<String> = members
        .iter()
        .map(|(s, r)| member_line(request, *s, *r))
        .collect();
    lines.join(",")
}

/// Appends ZooKeeper's `ReconfigRequest{ustring joiningServers; ustring leavingServers;
/// ustring newMembers; long curConfigId}` for `request`, as a learner forwards a client's
/// reconfig: joining `server.N=spec,...`, leaving `N,M`, newMembers `server.N=spec,...`
/// (each null when absent), curConfigId -1 for "any".
pub fn put_reconfig_request(request: &ReconfigRequest, out: &mut Vec<u8>) {
    let joining = (!request.joining.is_empty()).then(|| member_list(request, &request.joining));
    let leaving = (!request.leaving.is_empty()).then(|| {
        let ids: Vec<String> = request.leaving.iter().map(|s| s.to_string()).collect();
        ids.join(",")
    });
    let new_members = request
        .new_members
        .as_ref()
        .map(|m| member_list(request, m));
    jute::put_ustring(out, joining.as_deref());
    jute::put_ustring(out, leaving.as_deref());
    jute::put_ustring(out, new_members.as_deref());
    jute::put_i64(out, request.from_config.map_or(-1, |z| z.0 as i64));
}

/// Parses `server.N=spec,...` into members and specs (the role from the spec, as ZooKeeper's
/// QuorumServer reads it; a bare role word is a member without a spec).
fn read_member_list(
    text: &str,
    specs: &mut Vec<(Sid, String)>,
) -> Result<Vec<(Sid, LearnerType)>, JuteError> {
    let mut members = Vec::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((key, spec)) = item.split_once('=') else {
            return malformed(format!("reconfig member {item:?} without '='"));
        };
        let sid = key
            .trim()
            .strip_prefix("server.")
            .and_then(|n| n.parse::<Sid>().ok())
            .filter(|n| *n != 0);
        let Some(sid) = sid else {
            return malformed(format!("reconfig member {item:?} without a server id"));
        };
        let spec = spec.trim();
        let role = match spec {
            "participant" => LearnerType::Participant,
            "observer" => LearnerType::Observer,
            _ => {
                specs.push((sid, spec.to_string()));
                zablab_core::tree::reconfig::spec_role(spec)
            }
        };
        members.push((sid, role));
    }
    Ok(members)
}

/// Reads what [`put_reconfig_request`] writes.
pub fn read_reconfig_request(r: &mut Reader<'_>) -> Result<ReconfigRequest, JuteError> {
    let joining = r.ustring()?;
    let leaving = r.ustring()?;
    let new_members = r.ustring()?;
    let cur_config_id = r.i64()?;
    let mut specs = Vec::new();
    let joining = match joining {
        Some(t) => read_member_list(&t, &mut specs)?,
        None => Vec::new(),
    };
    let new_members = match new_members {
        Some(t) => Some(read_member_list(&t, &mut specs)?),
        None => None,
    };
    let mut left = Vec::new();
    for id in leaving.iter().flat_map(|t| t.split(',')).map(str::trim) {
        if id.is_empty() {
            continue;
        }
        match id.parse::<Sid>() {
            Ok(sid) => left.push(sid),
            Err(_) => return malformed(format!("reconfig leaving id {id:?}")),
        }
    }
    Ok(ReconfigRequest {
        joining,
        leaving: left,
        new_members,
        from_config: config_id(cur_config_id),
        specs,
        // Read from the packet's authinfo by the caller.
        auth: Vec::new(),
    })
}

/// `curConfigId` as the leader compares it: -1 is "any"; any other value must equal the current
/// version, so another negative one (no version is negative) keeps its bits and is refused as
/// BadVersion, as ZooKeeper's `configId != version` refuses it.
pub fn config_id(cur_config_id: i64) -> Option<Zxid> {
    (cur_config_id != -1).then_some(Zxid(cur_config_id as u64))
}
