package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
)

// MaxBodyBytes is the largest JSON body the API reads.
const MaxBodyBytes = 64 << 10

// requests are the export requests' use cases (app.Requests) over the
// server's App, DingTalk client and policy.
func (s *Server) requests() *app.Requests {
	return &app.Requests{App: s.App, Client: s.Client, Policy: s.Policy, Say: tr,
		Link: func(id string) string {
			return strings.TrimRight(s.BaseURL, "/") + "/requests/" + url.PathEscape(id)
		}}
}

// readJSON decodes a request's JSON body into v: at most MaxBodyBytes,
// one object, no unknown fields. An empty body leaves v as it is when
// optional. It answers the refusal itself and returns false.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.problem(w, r, http.StatusRequestEntityTooLarge, "problem.body_too_large",
				&dingbook.Error{Code: dingbook.EINVALID, Message: "the request body is larger than 64 KiB", Hint: "send a smaller body"}, MaxBodyBytes>>10)
			return false
		}
		s.problem(w, r, http.StatusBadRequest, "problem.body_malformed",
			&dingbook.Error{Code: dingbook.EINVALID, Message: "the request body could not be read: " + err.Error(), Hint: "send a JSON object"}, err.Error())
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 && optional {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if err != nil {
		s.problem(w, r, http.StatusBadRequest, "problem.body_malformed",
			&dingbook.Error{Code: dingbook.EINVALID, Message: "the request body is not valid: " + err.Error(), Hint: "send one JSON object with the documented fields only"}, err.Error())
		return false
	}
	return true
}

// refuseRequest answers an app refusal of a request use case: bad input
// 400, a policy refusal 422, a permission 403, an unknown request 404
// (an unknown department or person named in a body is bad input: 400).
func (s *Server) refuseRequest(w http.ResponseWriter, r *http.Request, err error) {
	status := refusalStatus(err)
	if status == 0 {
		s.fail(w, r, err)
		return
	}
	s.problem(w, r, status, "problem.request_refused", err)
}

// RequestCreated is the answer of POST /api/v1/requests.
type RequestCreated struct {
	ID        string   `json:"id"`
	State     string   `json:"state"`
	Approvers []string `json:"approvers"`
}

func (s *Server) apiCreateRequest(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	var spec app.RequestSpec
	if !s.readJSON(w, r, &spec, false) {
		return
	}
	er, err := s.requests().Create(r.Context(), sess, spec)
	if err != nil {
		s.refuseRequest(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, RequestCreated{ID: er.ID, State: er.State, Approvers: er.Approvers})
}

// RequestList is the answer of GET /api/v1/requests.
type RequestList struct {
	Requests []app.ExportRequest `json:"requests"`
}

func (s *Server) apiRequests(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	role := r.URL.Query().Get("role")
	if role == "" {
		role = "mine"
	}
	list, err := s.requests().List(r.Context(), sess, role)
	if err != nil {
		s.refuseRequest(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, RequestList{Requests: list})
}

// Narrowing is the optional body of POST /api/v1/requests/{id}/approve.
type Narrowing struct {
	Departments []int64  `json:"departments"`
	Fields      []string `json:"fields"`
	Days        int      `json:"days"`
}

func (s *Server) apiApproveRequest(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	var n Narrowing
	if !s.readJSON(w, r, &n, true) {
		return
	}
	er, err := s.requests().Approve(r.Context(), sess, r.PathValue("id"), app.Approval{Departments: n.Departments, Fields: n.Fields, Days: n.Days})
	if err != nil {
		s.refuseRequest(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, er)
}

// Denial is the body of POST /api/v1/requests/{id}/deny.
type Denial struct {
	Reason string `json:"reason"`
}

func (s *Server) apiDenyRequest(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	var d Denial
	if !s.readJSON(w, r, &d, true) {
		return
	}
	er, err := s.requests().Deny(r.Context(), sess, r.PathValue("id"), d.Reason)
	if err != nil {
		s.refuseRequest(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, er)
}
