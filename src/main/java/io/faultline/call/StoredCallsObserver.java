package io.faultline.call;

import java.util.List;

/**
 * Something that follows the calls once they are stored: windows, accumulators and signal feeds. It sees each call
 * once (resends are not passed again) and never the classify dry run, so state is only changed by what was really
 * ingested. It runs after the commit and must not throw; what it holds in memory it rebuilds from stored data.
 */
public interface StoredCallsObserver {

    /** The calls a batch newly stored, in batch order. */
    void stored(List<LlmCall> inserted);
}
