package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// printJSON re-indents a JSON response body.
func printJSON(w io.Writer, data []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, data, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// printTable writes rows under a header, aligned in columns.
func printTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, h := range header {
		if i > 0 {
			fmt.Fprint(tw, "\t")
		}
		fmt.Fprint(tw, h)
	}
	fmt.Fprintln(tw)
	for _, r := range rows {
		for i, c := range r {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, c)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// resource is the part of an ARM resource body the tables show.
type resource struct {
	Name       string `json:"name"`
	Location   string `json:"location"`
	Properties struct {
		AuthMode          string `json:"authMode"`
		ProvisioningState string `json:"provisioningState"`
		ScoringURI        string `json:"scoringUri"`
	} `json:"properties"`
}

func resourceRows(data []byte, list bool, endpoint bool) ([]string, [][]string, error) {
	var items []resource
	if list {
		var page struct{ Value []resource }
		if err := json.Unmarshal(data, &page); err != nil {
			return nil, nil, err
		}
		items = page.Value
	} else {
		var r resource
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, nil, err
		}
		items = []resource{r}
	}
	header := []string{"NAME", "LOCATION", "STATE"}
	if endpoint {
		header = append(header, "AUTH MODE", "SCORING URI")
	}
	var rows [][]string
	for _, it := range items {
		row := []string{it.Name, it.Location, it.Properties.ProvisioningState}
		if endpoint {
			row = append(row, it.Properties.AuthMode, it.Properties.ScoringURI)
		}
		rows = append(rows, row)
	}
	return header, rows, nil
}
