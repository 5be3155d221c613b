package sim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// drive serves files.create, files.get and permissions.list, create and
// delete, with Drive's error envelope.
func (s *Server) drive(w http.ResponseWriter, r *http.Request, id identity, rest string, body []byte) {
	rest = strings.TrimPrefix(rest, "/")
	q := r.URL.Query()
	if rest == "" && r.Method == http.MethodPost {
		var req struct {
			Name     string   `json:"name"`
			MimeType string   `json:"mimeType"`
			Parents  []string `json:"parents"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			driveError(w, 400, "Invalid JSON payload received.", "parseError", "")
			return
		}
		if req.MimeType != SpreadsheetMime {
			driveError(w, 400, "The simulator creates Google Sheets only.", "badRequest", "mimeType")
			return
		}
		if len(req.Parents) > 1 {
			driveError(w, 400, "Increasing the number of parents is not allowed.", "cannotAddParent", "")
			return
		}
		if id.sa && (len(req.Parents) == 0 || !s.shared[req.Parents[0]]) {
			driveError(w, 403, "Service Accounts do not have storage quota. Leverage shared drives (https://developers.google.com/workspace/drive/api/guides/about-shareddrives), or use OAuth delegation (http://support.google.com/a/answer/7281227) instead.", "storageQuotaExceeded", "")
			return
		}
		if len(req.Parents) == 1 && !s.shared[req.Parents[0]] && !strings.HasPrefix(req.Parents[0], "folder") {
			driveError(w, 404, "File not found: "+req.Parents[0]+".", "notFound", "fileId")
			return
		}
		f := s.newFile(id.email, req.Name, req.Parents)
		if len(req.Parents) == 1 && s.shared[req.Parents[0]] {
			// Files in a shared drive belong to the organisation; the
			// caller is an organizer through the drive.
			f.Perms[0].Role = "organizer"
		}
		drivePartial(w, q.Get("fields"), map[string]any{"kind": "drive#file", "id": f.ID, "name": f.Title, "mimeType": SpreadsheetMime})
		return
	}
	fid, sub, _ := strings.Cut(rest, "/")
	f := s.files[fid]
	if f == nil || f.role(id.email) == "" {
		driveError(w, 404, "File not found: "+fid+".", "notFound", "fileId")
		return
	}
	switch {
	case sub == "" && r.Method == http.MethodGet:
		drivePartial(w, q.Get("fields"), map[string]any{"kind": "drive#file", "id": f.ID, "name": f.Title, "mimeType": SpreadsheetMime, "trashed": false, "parents": f.Parents})
	case sub == "permissions" && r.Method == http.MethodGet:
		size := 100
		if v, err := strconv.Atoi(q.Get("pageSize")); err == nil && v > 0 && v < 100 {
			size = v
		}
		start, _ := strconv.Atoi(q.Get("pageToken"))
		end := min(start+size, len(f.Perms))
		var perms []any
		for _, p := range f.Perms[min(start, end):end] {
			b, _ := json.Marshal(p)
			var m map[string]any
			json.Unmarshal(b, &m)
			m["kind"] = "drive#permission"
			perms = append(perms, m)
		}
		out := map[string]any{"kind": "drive#permissionList", "permissions": perms}
		if end < len(f.Perms) {
			out["nextPageToken"] = strconv.Itoa(end)
		}
		drivePartial(w, q.Get("fields"), out)
	case sub == "permissions" && r.Method == http.MethodPost:
		var p Permission
		if err := json.Unmarshal(body, &p); err != nil {
			driveError(w, 400, "Invalid JSON payload received.", "parseError", "")
			return
		}
		if q.Get("sendNotificationEmail") != "" && (p.Type == "domain" || p.Type == "anyone") {
			driveError(w, 400, "sendNotificationEmail is not allowed for this permission type.", "invalidSharingRequest", "sendNotificationEmail")
			return
		}
		if (p.Type == "user" || p.Type == "group") && p.EmailAddress == "" || p.Type == "domain" && p.Domain == "" {
			driveError(w, 400, "The permission is missing its emailAddress or domain.", "required", "permission")
			return
		}
		f.nextPerm++
		p.ID = "perm" + strconv.Itoa(f.nextPerm)
		f.Perms = append(f.Perms, p)
		writeJSON(w, 200, map[string]any{"kind": "drive#permission", "id": p.ID, "type": p.Type, "role": p.Role})
	case strings.HasPrefix(sub, "permissions/") && r.Method == http.MethodDelete:
		pid := strings.TrimPrefix(sub, "permissions/")
		for i, p := range f.Perms {
			if p.ID == pid {
				f.Perms = append(f.Perms[:i], f.Perms[i+1:]...)
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		driveError(w, 404, "Permission not found: "+pid+".", "notFound", "permissionId")
	default:
		driveError(w, 404, "Not Found", "notFound", "")
	}
}

// drivePartial writes v narrowed to the fields parameter.
func drivePartial(w http.ResponseWriter, fields string, v map[string]any) {
	out, ok := partial(fields, v)
	if !ok {
		driveError(w, 400, "Invalid field selection "+fields, "invalidParameter", "fields")
		return
	}
	writeJSON(w, 200, out)
}
