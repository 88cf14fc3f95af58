/**
 * SQL highlighting in notebook cells: a cell whose first line is `%%sql …` is parsed and
 * coloured as SQL (CodeMirror's SQL language, from JupyterLab's language registry), and
 * switches back and forth as the magic is typed or removed. In other cells, the SQL after
 * a `%sql` line magic is coloured too.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import {
  EditorExtensionRegistry,
  IEditorExtensionRegistry,
  IEditorLanguageRegistry,
  jupyterHighlightStyle
} from '@jupyterlab/codemirror';
import { LanguageSupport, syntaxHighlighting } from '@codemirror/language';
import { Compartment, EditorState, Extension, Prec, RangeSetBuilder, Text } from '@codemirror/state';
import { Decoration, DecorationSet, EditorView, ViewPlugin, ViewUpdate } from '@codemirror/view';
import { classHighlighter, highlightTree } from '@lezer/highlight';

/** The first line of a SQL cell. */
export const SQL_CELL = /^\s*%%sql\b/;
/** A `%sql` line magic, possibly assigned (`rows = %sql SELECT …`); group 1 ends before the SQL. */
export const SQL_LINE = /^(\s*(?:[A-Za-z_][\w, ]*=\s*)?%sql\s+)(?!-)(.*)$/;

export function isSqlCell(doc: Text): boolean {
  return doc.lines > 0 && SQL_CELL.test(doc.line(1).text);
}

/**
 * The SQL language for cells starting with `%%sql`. Prec.highest: the `language` facet takes
 * its first value, so this one wins over the notebook's Python while it is switched on.
 * `classHighlighter` adds stable `tok-*` classes next to the theme's colours (the browser
 * tests and user CSS can rely on them).
 */
function sqlCell(sql: LanguageSupport, initial: boolean): Extension {
  const compartment = new Compartment();
  const on: Extension = [Prec.highest(sql), syntaxHighlighting(classHighlighter)];
  return [
    compartment.of(initial ? on : []),
    EditorState.transactionExtender.of(tr => {
      if (!tr.docChanged) {
        return null;
      }
      const active = compartment.get(tr.startState) === on;
      const wanted = isSqlCell(tr.newDoc);
      return active === wanted ? null : { effects: compartment.reconfigure(wanted ? on : []) };
    })
  ];
}

/** Colours the SQL after `%sql` on the visible lines of a (Python) cell. */
function sqlLineMagic(sql: LanguageSupport): Extension {
  const parser = sql.language.parser;
  const build = (view: EditorView): DecorationSet => {
    const builder = new RangeSetBuilder<Decoration>();
    const doc = view.state.doc;
    if (isSqlCell(doc)) {
      return builder.finish();
    }
    for (const { from, to } of view.visibleRanges) {
      for (let pos = from; pos <= to; ) {
        const line = doc.lineAt(pos);
        const match = SQL_LINE.exec(line.text);
        if (match) {
          const start = line.from + match[1].length;
          highlightTree(
            parser.parse(match[2]),
            [jupyterHighlightStyle, classHighlighter],
            (a, b, cls) => builder.add(start + a, start + b, Decoration.mark({ class: cls }))
          );
        }
        pos = line.to + 1;
      }
    }
    return builder.finish();
  };
  return ViewPlugin.fromClass(
    class {
      decorations: DecorationSet;
      constructor(view: EditorView) {
        this.decorations = build(view);
      }
      update(update: ViewUpdate) {
        if (update.docChanged || update.viewportChanged) {
          this.decorations = build(update.view);
        }
      }
    },
    { decorations: v => v.decorations }
  );
}

export const highlightPlugin: JupyterFrontEndPlugin<void> = {
  id: 'sqlweave:highlight',
  description: 'Highlights %%sql cells and %sql lines as SQL.',
  autoStart: true,
  requires: [IEditorExtensionRegistry, IEditorLanguageRegistry],
  activate: async (
    app: JupyterFrontEnd,
    extensions: IEditorExtensionRegistry,
    languages: IEditorLanguageRegistry
  ) => {
    const language = await languages.getLanguage('sql');
    const sql = language?.support;
    if (!sql) {
      console.warn('sqlweave: no SQL language in the editor registry; %%sql cells stay Python');
      return;
    }
    extensions.addExtension({
      name: 'sqlweave:sql-cells',
      factory: options => {
        const source = options.model.sharedModel.getSource();
        const initial = SQL_CELL.test(source.split('\n', 1)[0] ?? '');
        return EditorExtensionRegistry.createImmutableExtension([
          sqlCell(sql, initial),
          sqlLineMagic(sql)
        ]);
      }
    });
  }
};
