package io.faultline.eval;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One detector's measured figures, written as a Markdown section to {@code target/eval/<name>.md}; {@code make eval}
 * joins the sections into {@code eval/RESULTS.md}.
 */
public final class EvalReport {

    /** One line of the table: a detector (or type) on one split of one set. */
    public record Line(String detector, String split, Confusion confusion) {
    }

    private final String name;
    private final String title;
    private final List<Line> lines = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();

    public EvalReport(String name, String title) {
        this.name = name;
        this.title = title;
    }

    public EvalReport line(String detector, String split, Confusion confusion) {
        lines.add(new Line(detector, split, confusion));
        return this;
    }

    public EvalReport note(String note) {
        notes.add(note);
        return this;
    }

    public List<Line> lines() {
        return lines;
    }

    public String markdown() {
        StringBuilder out = new StringBuilder("## ").append(title).append("\n\n");
        out.append("| detector | split | n | TP | FP | FN | TN | precision | recall | F1 | accuracy |\n");
        out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Line line : lines) {
            Confusion c = line.confusion();
            out.append(String.format(Locale.ROOT, "| %s | %s | %d | %d | %d | %d | %d | %.3f | %.3f | %.3f | %.3f |%n",
                    line.detector(), line.split(), c.total(), c.tp(), c.fp(), c.fn(), c.tn(), c.precision(),
                    c.recall(), c.f1(), c.accuracy()));
        }
        if (!notes.isEmpty()) {
            out.append('\n');
            for (String note : notes) {
                out.append("- ").append(note).append('\n');
            }
        }
        return out.append('\n').toString();
    }

    /** Writes the section and prints it, so that the figures are in the build log too. */
    public void write() {
        String text = markdown();
        System.out.println(text);
        try {
            Path dir = Path.of("target", "eval");
            Files.createDirectories(dir);
            Files.writeString(dir.resolve(name + ".md"), text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
