//! Compatibility: the constructs lowering noted, held against the targeted releases through the
//! capability table (`facts::CAPABILITIES`). This module holds no server knowledge of its own.

use crate::diagnostic::{Code, Sink};
use crate::facts::{self, Otherwise, Server, Since};
use crate::ir::Deployment;

/// Warns (W001) or refuses (E015, E020) what a targeted release cannot express, as the table says.
pub(crate) fn check(d: &Deployment, sink: &mut Sink) {
    for u in std::mem::take(&mut sink.uses) {
        for server in Server::ALL {
            let (Some(target), Some(cap)) = (d.target(server), facts::capability(u.construct, server)) else {
                continue;
            };
            let others_targeted = Server::ALL.iter().any(|&s| s != server && d.target(s).is_some());
            if cap.with_other && !others_targeted {
                continue;
            }
            let since = match cap.since {
                Since::Release(v) if target >= v => continue,
                Since::Release(v) => Some(v),
                Since::Never => None,
            };
            let fill = |text: &str| {
                let text = text.replace("{target}", &target.to_string()).replace("{arg}", &u.arg);
                match since {
                    Some(v) => text.replace("{since}", &v.to_string()),
                    None => text,
                }
            };
            let diagnostic = match (cap.otherwise, since) {
                (Otherwise::Render, _) => continue,
                (Otherwise::Warn, _) => sink.warning(Code::NotOnServer, u.span, fill(cap.message)),
                (Otherwise::Refuse, Some(_)) => sink.error(Code::NeedsNewer, u.span, fill(cap.message)),
                (Otherwise::Refuse, None) => sink.error(Code::Unsupported, u.span, fill(cap.message)),
            };
            if let Some(hint) = cap.hint {
                diagnostic.hint(fill(hint));
            }
        }
    }
}
