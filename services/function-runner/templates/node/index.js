// A workflow function: read INPUT (JSON), print one JSON line with the result.
"use strict";

const fs = require("node:fs");

function readInput() {
  if (process.env.INPUT_FILE) {
    return JSON.parse(fs.readFileSync(process.env.INPUT_FILE, "utf8"));
  }
  return JSON.parse(process.env.INPUT || "{}");
}

function handle(input) {
  const value = input.value ?? 0;
  if (typeof value !== "number") {
    throw new Error(`'value' must be a number, not ${JSON.stringify(value)}`);
  }
  const text = String(input.text ?? "").trim();
  return {
    processed: value * 2,
    words: text ? text.split(/\s+/).length : 0,
    nodeId: process.env.NODE_ID ?? null,
  };
}

try {
  const result = handle(readInput());
  console.error(`processed input for node ${process.env.NODE_ID}`);
  console.log(JSON.stringify(result));
} catch (err) {
  console.error(`error: ${err.message}`);
  process.exitCode = 1;
}
