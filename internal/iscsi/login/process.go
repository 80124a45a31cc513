package login

import (
	"strconv"
	"strings"

	"github.com/halun/halun/internal/iscsi/pdu"
)

// process handles the keys of one complete request and decides whether the
// stage may end. It returns the reply keys and, if the T bit may be set, the
// next stage.
func (n *Negotiator) process(req *pdu.LoginReq, kvs []kv) (out []kv, transit bool, nsg uint8, f *failure) {
	if !n.started {
		if out, f = n.begin(req, kvs); f != nil {
			return nil, false, 0, f
		}
		n.started = true
	}
	var opKeys, authKeys []kv
	inRequest := map[string]bool{}
	for _, p := range kvs {
		def, known := keyTable[p.Key]
		switch {
		case known && def.kind == kindInitiatorDecl:
			if inRequest[p.Key] {
				return nil, false, 0, fail(StatusInitiatorError, "key %s sent twice", p.Key)
			}
			inRequest[p.Key] = true
			// Declarations may be repeated unchanged (some initiators
			// resend them after skipping the security stage), never
			// changed (RFC 7143 §6.3).
			if v, ok := n.decl[p.Key]; !ok || v != p.Value {
				return nil, false, 0, fail(StatusInitiatorError, "%s redeclared during login", p.Key)
			}
		case known && def.kind == kindSecurity:
			if n.stage != StageSecurity {
				return nil, false, 0, fail(StatusInitiatorError, "%s outside the security stage", p.Key)
			}
			r, f := n.authMethod(p)
			if f != nil {
				return nil, false, 0, f
			}
			out = append(out, r...)
		case !known && !isExtensionKey(p.Key) && n.stage == StageSecurity && n.exch != nil:
			authKeys = append(authKeys, p)
		default:
			opKeys = append(opKeys, p)
		}
	}
	if len(opKeys) > 0 {
		r, f := n.eng.negotiate(opKeys)
		if f != nil {
			return nil, false, 0, f
		}
		out = append(out, r...)
	}
	if len(authKeys) > 0 {
		if n.authDone {
			return nil, false, 0, fail(StatusInitiatorError, "authentication keys after authentication completed")
		}
		st := n.exch.Step(authKeys)
		if st.Status != StatusSuccess {
			return nil, false, 0, fail(st.Status, "%s authentication failed", n.authChosen)
		}
		out = append(out, st.Reply...)
		if st.Done {
			n.authDone = true
			n.res.AuthIdentity = st.Identity
		}
	}
	if n.stage == StageOperational {
		out = append(out, n.eng.declaration()...)
	}
	if !req.Transit {
		return out, false, 0, nil
	}
	if n.stage == StageSecurity && !n.authDone {
		if n.authChosen != "" {
			return out, false, 0, nil // the exchange goes on; answer T=0
		}
		// The initiator leaves the security stage without offering
		// AuthMethod: acceptable only if no authentication is required.
		if !contains(n.methods, AuthNone) {
			return nil, false, 0, fail(StatusAuthenticationFailure, "authentication required but no AuthMethod offered")
		}
		n.authDone, n.res.AuthMethod = true, AuthNone
	}
	if req.NSG == StageFullFeature {
		if len(n.eng.offered) > 0 {
			return nil, false, 0, fail(StatusInitiatorError, "initiator did not answer the keys the target offered")
		}
		if offers := n.eng.offers(); len(offers) > 0 {
			// Stay in the stage until the initiator answers (RFC 7143
			// §6.2: the target sets T only when negotiation is complete).
			return append(out, offers...), false, 0, nil
		}
		out = append(out, n.eng.declaration()...)
	}
	return out, true, req.NSG, nil
}

// begin handles the first complete request: the initiator's declarations,
// the target, and what authentication is required (RFC 7143 §6.3, §13.4,
// §13.5, §13.21).
func (n *Negotiator) begin(req *pdu.LoginReq, kvs []kv) ([]kv, *failure) {
	for _, p := range kvs {
		if def, ok := keyTable[p.Key]; ok && def.kind == kindInitiatorDecl {
			if _, dup := n.decl[p.Key]; dup {
				return nil, fail(StatusInitiatorError, "key %s sent twice", p.Key)
			}
			n.decl[p.Key] = p.Value
		}
	}
	name, ok := n.decl[keyInitiatorName]
	if !ok || name == "" {
		return nil, fail(StatusMissingParameter, "InitiatorName missing from the first Login Request")
	}
	if len(name) > maxNameLen {
		return nil, fail(StatusInitiatorError, "InitiatorName longer than %d bytes", maxNameLen)
	}
	if n.cfg.Env == nil {
		return nil, fail(StatusTargetError, "no environment configured")
	}
	r := &n.res
	// iSCSI names compare case-insensitively (RFC 3722): every decision
	// downstream (access, sessions, I_T nexus) sees the lower-case form.
	r.InitiatorName = strings.ToLower(name)
	r.InitiatorAlias = n.decl[keyInitiatorAlias]
	r.ISID, r.TSIH, r.CID, r.CmdSN = req.ISID, req.TSIH, req.CID, req.CmdSN
	r.PortalGroupTag = n.cfg.PortalGroupTag

	switch st, ok := n.decl[keySessionType]; {
	case !ok || st == "Normal":
		r.SessionType = SessionNormal
	case st == "Discovery":
		r.SessionType = SessionDiscovery
	default:
		return nil, fail(StatusSessionTypeNotSupported, "SessionType %.32q not supported", st)
	}

	var out []kv
	settings := n.cfg.DiscoverySettings
	if r.SessionType == SessionNormal {
		tn, ok := n.decl[keyTargetName]
		if !ok || tn == "" {
			return nil, fail(StatusMissingParameter, "TargetName missing from a Normal session's first Login Request")
		}
		info, found := n.cfg.Env.LookupTarget(tn, n.cfg.PortalGroupTag)
		if found && len(info.PortalGroups) > 0 && !containsTag(info.PortalGroups, n.cfg.PortalGroupTag) {
			found = false
		}
		if !found {
			return nil, fail(StatusNotFound, "target %.64q not found on portal group %d", tn, n.cfg.PortalGroupTag)
		}
		r.TargetName, r.Target = tn, info
		settings = info.Params
		// RFC 7143 §13.9: returned in the response to the first request
		// (C=0) naming a target.
		out = append(out, kv{Key: keyTargetPortalGroupTag, Value: strconv.Itoa(int(n.cfg.PortalGroupTag))})
		if info.Alias != "" {
			out = append(out, kv{Key: keyTargetAlias, Value: info.Alias})
		}
	}
	if settings.MaxRecvDataSegmentLength == 0 {
		settings = DefaultSettings()
	}
	if err := settings.Validate(); err != nil {
		return nil, fail(StatusTargetError, "target settings are invalid: %v", err)
	}
	n.eng = newEngine(settings, r.SessionType == SessionDiscovery, req.TSIH == 0)

	n.methods = []string{AuthNone}
	if n.cfg.Auth != nil {
		n.methods = n.cfg.Auth.Methods(n.authRequest())
		if len(n.methods) == 0 {
			return nil, fail(StatusAuthorizationFailure, "initiator not authorized for this target")
		}
	}
	if n.stage == StageOperational {
		// Starting in the operational stage skips authentication.
		if !contains(n.methods, AuthNone) {
			return nil, fail(StatusAuthenticationFailure, "authentication required but the security stage was skipped")
		}
		n.authDone, r.AuthMethod = true, AuthNone
	}
	return out, nil
}

// authMethod answers AuthMethod (RFC 7143 §12.1): the first method in the
// initiator's list that the target accepts.
func (n *Negotiator) authMethod(p kv) ([]kv, *failure) {
	if n.authChosen != "" {
		return nil, fail(StatusInitiatorError, "AuthMethod sent twice")
	}
	if isReservedValue(p.Value) {
		return nil, fail(StatusInitiatorError, "AuthMethod proposed with reserved value %s", p.Value)
	}
	m, ok := pickFromList(p.Value, n.methods)
	if !ok {
		return nil, fail(StatusAuthenticationFailure, "no acceptable AuthMethod in %.64q", p.Value)
	}
	n.authChosen, n.res.AuthMethod = m, m
	if m == AuthNone {
		n.authDone = true
	} else {
		exch, err := n.cfg.Auth.Begin(m, n.authRequest())
		if err != nil || exch == nil {
			return nil, fail(StatusTargetError, "cannot start %s authentication", m)
		}
		n.exch = exch
	}
	return []kv{{Key: keyAuthMethod, Value: m}}, nil
}

func (n *Negotiator) authRequest() AuthRequest {
	return AuthRequest{
		InitiatorName: n.res.InitiatorName, TargetName: n.res.TargetName,
		SessionType: n.res.SessionType, ISID: n.res.ISID,
	}
}

func containsTag(tags []uint16, t uint16) bool {
	for _, x := range tags {
		if x == t {
			return true
		}
	}
	return false
}
