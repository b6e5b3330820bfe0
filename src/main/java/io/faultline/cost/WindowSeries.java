package io.faultline.cost;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Usage of one deployment, model or key in fixed windows: the open window and up to {@code history} closed ones.
 * Calls are placed by their own end time, so replays and late batches land where they belong: a call for a window
 * already closed is added to it, and one for a window that never opened (its calls were held back by an outage of
 * the service or its database and delivered late) opens it among the closed ones, in time order. Either way the
 * window is marked late so that {@link UsageWindows} judges it again once its late calls have settled; what it has
 * raised is remembered per detector, so a window raises each kind once. Not thread-safe: {@link UsageWindows} locks
 * it.
 */
final class WindowSeries {

    /** The totals of one window. */
    static final class Window {
        final Instant start;
        long calls;
        long tokens;
        long reasoningTokens;
        long cacheKnown;
        long cacheHits;
        long promptTokens;
        long cachedTokens;
        /** The detectors this window has raised (or, read back after a restart, would have): bits of UsageWindows. */
        int raised;
        /** Calls that arrived after the window closed. */
        long lateCalls;
        /** When the last late call arrived (the service's clock) while not yet judged again; null when none waits. */
        Instant lateSince;

        Window(Instant start) {
            this.start = start;
        }

        /** LiteLLM's own cache (the proxy answered from its cache), over calls that say either way. */
        double proxyHitRatio() {
            return cacheKnown == 0 ? Double.NaN : (double) cacheHits / cacheKnown;
        }

        /** The provider's prompt cache: the share of prompt tokens read from it. */
        double promptCacheRatio() {
            return promptTokens == 0 ? Double.NaN : (double) cachedTokens / promptTokens;
        }
    }

    final String key;
    final String provider;
    final String subject;
    /** The model group of a key's series (a key is watched per model group); null for the other series. */
    final String model;
    private final long windowMillis;
    private final int history;
    /** Newest first. */
    private final List<Window> closed = new ArrayList<>();
    private Window open;

    WindowSeries(String key, String provider, String subject, long windowMillis, int history) {
        this(key, provider, subject, null, windowMillis, history);
    }

    WindowSeries(String key, String provider, String subject, String model, long windowMillis, int history) {
        this.key = key;
        this.provider = provider;
        this.subject = subject;
        this.model = model;
        this.windowMillis = windowMillis;
        this.history = history;
    }

    Instant align(Instant at) {
        long millis = at.toEpochMilli();
        return Instant.ofEpochMilli(millis - Math.floorMod(millis, windowMillis));
    }

    /**
     * The window of {@code at}, closing the open one first when {@code at} is past it; a closed window is returned
     * through {@code justClosed} so that the caller judges it once. A call older than the open window (or, with none
     * open, than the newest closed one) is late: its window, closed or opened now among the closed ones, is returned
     * for the caller to count in and mark ({@link #isOpen}); null when it is older than the history.
     */
    Window windowFor(Instant at, List<Window> justClosed) {
        Instant start = align(at);
        if (open != null && start.equals(open.start)) {
            return open;
        }
        Window newest = closed.isEmpty() ? null : closed.get(0);
        if ((open == null || start.isAfter(open.start)) && (newest == null || start.isAfter(newest.start))) {
            if (open != null) {
                justClosed.add(open);
                push(open);
            }
            open = new Window(start);
            return open;
        }
        return closedWindow(start);
    }

    boolean isOpen(Window window) {
        return window == open;
    }

    /** The closed window starting at {@code start}, opened in its place when none is; null beyond the history. */
    private Window closedWindow(Instant start) {
        Instant latest = open != null ? open.start : closed.get(0).start;
        if (start.isBefore(latest.minusMillis(windowMillis * history))) {
            return null; // older than the history: it no longer matters
        }
        int i = 0;
        while (i < closed.size() && closed.get(i).start.isAfter(start)) {
            i++;
        }
        if (i < closed.size() && closed.get(i).start.equals(start)) {
            return closed.get(i);
        }
        if (i >= history) {
            return null;
        }
        Window window = new Window(start);
        closed.add(i, window);
        trim();
        return window;
    }

    /** Closed windows with late calls that arrived before {@code settledBefore} and are not judged again yet. */
    List<Window> settledLate(Instant settledBefore) {
        List<Window> out = new ArrayList<>(0);
        for (Window w : closed) {
            if (w.lateSince != null && !w.lateSince.isAfter(settledBefore)) {
                out.add(w);
            }
        }
        return out;
    }

    /** Closed windows, oldest first. */
    List<Window> closedOldestFirst() {
        List<Window> out = new ArrayList<>(closed);
        java.util.Collections.reverse(out);
        return out;
    }

    /** Closes the open window if it ended before {@code cutoff}; returns it, or null. */
    Window closeIfEnded(Instant cutoff) {
        if (open == null || open.start.plusMillis(windowMillis).isAfter(cutoff)) {
            return null;
        }
        Window ended = open;
        push(ended);
        open = null;
        return ended;
    }

    /** Closed windows before {@code window}, newest first. */
    List<Window> before(Window window) {
        List<Window> out = new ArrayList<>(closed.size());
        for (Window w : closed) {
            if (w.start.isBefore(window.start)) {
                out.add(w);
            }
        }
        return out;
    }

    Instant end(Window window) {
        return window.start.plusMillis(windowMillis);
    }

    private void push(Window window) {
        closed.add(0, window);
        trim();
    }

    private void trim() {
        while (closed.size() > history) {
            closed.remove(closed.size() - 1);
        }
    }

    /** A closed window rebuilt from stored calls (oldest first), after a restart. */
    void seedClosed(Window window) {
        push(window);
    }
}
