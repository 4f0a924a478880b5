// The generated form, loaded when first needed: react-jsonschema-form and ajv stay out of
// the bundle that opens the editor.
import { lazy, Suspense } from "react";
import type { SchemaFormProps } from "./SchemaForm";

const SchemaForm = lazy(() => import("./SchemaForm"));

export function FunctionForm(props: SchemaFormProps) {
  return (
    <Suspense fallback={<div className="muted small">Loading form…</div>}>
      <SchemaForm {...props} />
    </Suspense>
  );
}

export type { SchemaFormProps };
