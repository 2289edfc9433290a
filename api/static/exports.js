// Every result on the page as one CSV (a row per face) or one JSON file, saved by the browser.

const CSV_COLUMNS = [
  "file", "id", "status", "face", "gender", "gender_confidence", "age_years", "age_range",
  "age_confidence", "expression", "expression_confidence", "box_x", "box_y", "box_width",
  "box_height", "error",
];

// Quoted when needed; a leading = + - @ is defused so a spreadsheet never runs a file name as a
// formula.
function csvField(value) {
  let text = value === null || value === undefined ? "" : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function csvRows(entry) {
  const { file, analysis, error, state } = entry;
  const base = {
    file: file.name, id: analysis ? analysis.id : "", status: analysis ? analysis.status : state,
  };
  if (error) return [{ ...base, status: "error", error: error.message }];
  const faces = analysis && analysis.result ? analysis.result.faces : [];
  if (!faces.length) return [base];
  return faces.map((face, index) => ({
    ...base,
    face: index + 1,
    gender: face.gender.label,
    gender_confidence: face.gender.confidence,
    age_years: face.age.years,
    age_range: face.age.range,
    age_confidence: face.age.confidence,
    // Empty where the server's pack has no expression network (or leaves it out).
    expression: face.expression ? face.expression.label : "",
    expression_confidence: face.expression ? face.expression.confidence : "",
    box_x: face.box.x,
    box_y: face.box.y,
    box_width: face.box.width,
    box_height: face.box.height,
  }));
}

export function csvOf(entries) {
  const lines = [CSV_COLUMNS.join(",")];
  entries.flatMap(csvRows).forEach((row) => {
    lines.push(CSV_COLUMNS.map((column) => csvField(row[column])).join(","));
  });
  return `${lines.join("\r\n")}\r\n`;
}

// Each file with the analysis resource the API gave it, or the page's error message.
export function jsonOf(entries) {
  const items = entries.map(({ file, analysis, error, state }) => {
    if (!error) return { file: file.name, status: analysis ? analysis.status : state, analysis };
    const { code, message } = error;
    return { file: file.name, status: "error", error: { code, message } };
  });
  return `${JSON.stringify(items, null, 2)}\n`;
}

export function save(text, type, filename) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  // Revoked once the download surely has its own copy (some browsers read the URL late).
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
