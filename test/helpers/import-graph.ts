/**
 * The static import graph of the TypeScript sources, read with the TypeScript parser (no
 * regular expressions): for the no-cycle and import-clean checks of the broadcast core.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import ts from 'typescript';

/** One import or re-export of a module. */
export interface ModuleImport {
  /** As written: `./x.ts`, `node:fs`, `prom-client`. */
  specifier: string;
  /** The file it names, for a relative specifier. */
  file: string | undefined;
  /**
   * Erased from the JavaScript (`import type`, `export type`): it loads nothing. With
   * `verbatimModuleSyntax`, `import { type A }` is kept (as `import {}`) and does load.
   */
  typeOnly: boolean;
}

/** The imports and re-exports of `file` (static ones; `import()` expressions too). */
export function importsOf(file: string): ModuleImport[] {
  const text = readFileSync(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, false);
  const out: ModuleImport[] = [];
  const add = (specifier: string, typeOnly: boolean) => {
    const file2 = specifier.startsWith('.') ? resolve(dirname(file), specifier) : undefined;
    out.push({ specifier, file: file2, typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.importClause?.isTypeOnly === true);
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      add(node.moduleSpecifier.text, node.isTypeOnly);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      add(node.arguments[0].text, false);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

/**
 * The modules `entry` loads when imported (itself included), following relative imports that
 * are not type-only, and the non-relative specifiers (`node:...`, packages) they import.
 */
export function loadedBy(entry: string): { files: Set<string>; external: Map<string, string> } {
  const files = new Set<string>();
  const external = new Map<string, string>();
  const pending = [resolve(entry)];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const imp of importsOf(file)) {
      if (imp.typeOnly) continue;
      if (imp.file) pending.push(imp.file);
      else if (!external.has(imp.specifier)) external.set(imp.specifier, file);
    }
  }
  return { files, external };
}

/**
 * The import cycles among `files` (every import counts, type-only ones too: a cycle of types is
 * still two modules that cannot be read apart). Each cycle as the list of its files, once.
 */
export function importCycles(files: readonly string[]): string[][] {
  const inSet = new Set(files.map((f) => resolve(f)));
  const edges = new Map<string, string[]>();
  for (const f of inSet) {
    edges.set(
      f,
      importsOf(f)
        .map((i) => i.file)
        .filter((t): t is string => t !== undefined && inSet.has(t)),
    );
  }
  // Tarjan's strongly connected components: a component of more than one file is a cycle
  // (as is a file importing itself).
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const connect = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v)!) {
      if (!idx.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || edges.get(v)!.includes(v)) cycles.push(component.sort());
    }
  };
  for (const f of inSet) if (!idx.has(f)) connect(f);
  return cycles;
}
