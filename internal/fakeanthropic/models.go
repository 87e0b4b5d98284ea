package fakeanthropic

import "net/http"

// model is a model object of the models list.
type model struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	CreatedAt   string `json:"created_at"`
}

// models are the models the fake lists, newest first as the real API does.
var models = []model{
	{"model", "claude-opus-4-5-20251101", "Claude Opus 4.5", "2025-11-01T00:00:00Z"},
	{"model", "claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"},
	{"model", "claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-01T00:00:00Z"},
}

// listModels answers GET /v1/models.
func (x *exchange) listModels() {
	x.writeJSON(http.StatusOK, marshal(struct {
		Data    []model `json:"data"`
		HasMore bool    `json:"has_more"`
		FirstID string  `json:"first_id"`
		LastID  string  `json:"last_id"`
	}{models, false, models[0].ID, models[len(models)-1].ID}))
}

// getModel answers GET /v1/models/{id}.
func (x *exchange) getModel(id string) {
	for _, m := range models {
		if m.ID == id {
			x.writeJSON(http.StatusOK, marshal(m))
			return
		}
	}
	x.writeError(http.StatusNotFound, "not_found_error", "model: "+id)
}
