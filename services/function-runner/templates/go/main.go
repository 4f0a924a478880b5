// A workflow function: read INPUT (JSON), print one JSON line with the result.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

type input struct {
	Value *float64 `json:"value"`
	Text  string   `json:"text"`
}

type output struct {
	Processed float64 `json:"processed"`
	Words     int     `json:"words"`
	NodeID    string  `json:"nodeId"`
}

func readInput() ([]byte, error) {
	if path := os.Getenv("INPUT_FILE"); path != "" {
		return os.ReadFile(path)
	}
	if raw := os.Getenv("INPUT"); raw != "" {
		return []byte(raw), nil
	}
	return []byte("{}"), nil
}

func main() {
	raw, err := readInput()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	var in input
	if err := json.Unmarshal(raw, &in); err != nil {
		fmt.Fprintln(os.Stderr, "error: 'value' must be a number:", err)
		os.Exit(1)
	}
	value := 0.0
	if in.Value != nil {
		value = *in.Value
	}
	result := output{Processed: value * 2, Words: len(strings.Fields(in.Text)), NodeID: os.Getenv("NODE_ID")}
	line, _ := json.Marshal(result)
	fmt.Fprintln(os.Stderr, "processed input for node", os.Getenv("NODE_ID"))
	fmt.Println(string(line))
}
