/**
 * What goes between the text before the cursor and a name the schema browser inserts, so
 * that clicking a table and then a column gives `flights, dep_delay`, not `flightsdep_delay`.
 */

/** Words after which a name follows with a space, not a comma (`SELECT x`, `FROM t`). */
const KEYWORDS = new Set(
  (
    'all and as asc between by case create cross delete desc distinct else exists from full ' +
    'group having if in inner insert into is join lateral left like limit natural not on or ' +
    'order outer over partition replace returning right select set show table then union ' +
    'update using values view when where with'
  ).split(' ')
);

/**
 * The separator to insert before a name, given the text of the line up to the cursor.
 *
 * >>> separatorBefore('SELECT')   // ' '
 * >>> separatorBefore('flights')  // ', '
 * >>> separatorBefore('f.')       // ''
 */
export function separatorBefore(before: string): string {
  const last = before.slice(-1);
  if (last === '' || /[\s(,.:]/.test(last)) {
    return '';
  }
  const word = /([A-Za-z_][A-Za-z0-9_]*)$/.exec(before)?.[1];
  if (word && KEYWORDS.has(word.toLowerCase())) {
    return ' ';
  }
  if (/[A-Za-z0-9_"`\])*]/.test(last)) {
    return ', '; // after a name: the next item of a list
  }
  return ' '; // after an operator
}
