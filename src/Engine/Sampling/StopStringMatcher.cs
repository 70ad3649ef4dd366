namespace Rollout.Engine.Sampling;

/// <summary>The outcome of one <see cref="StopStringMatcher.Advance"/> call.</summary>
/// <param name="Stopped">A stop string appeared: the completion ends here and <paramref name="Text"/> is its last piece.</param>
/// <param name="Text">Text that may now be shown, following what earlier calls returned.</param>
/// <param name="Stop">The stop string that ended the completion, when <paramref name="Stopped"/>.</param>
internal readonly record struct StopStringMatch(bool Stopped, string Text, string? Stop = null);

/// <summary>
/// Watches the streamed text of one completion for <see cref="SamplingParams.Stop"/> strings. It releases
/// text only when no stop string could still begin in it, so nothing shown is ever retracted: it holds back
/// the longest suffix that is a prefix of some stop string, and never splits a surrogate pair. It keeps
/// only that held-back text, so each call costs the new piece plus the longest stop string, whatever the
/// length of the completion.
/// </summary>
/// <remarks>
/// The stop that wins is the one that completes first (earliest end, then earliest start). That is what
/// character-by-character streaming would find, so the result does not depend on how the text was chunked.
/// </remarks>
internal sealed class StopStringMatcher
{
    readonly IReadOnlyList<string> _stops;
    readonly bool _includeStop;
    string _held = "";
    bool _stopped;

    /// <param name="stopStrings">Non-empty stop strings (validated by <see cref="SamplingParams.Validate"/>).</param>
    /// <param name="includeStopString">Whether the released text ends after the stop string rather than before it.</param>
    public StopStringMatcher(IReadOnlyList<string> stopStrings, bool includeStopString)
    {
        _stops = stopStrings;
        _includeStop = includeStopString;
    }

    /// <summary>Takes the next piece of generated text and returns what may be shown beyond what was already returned.</summary>
    /// <param name="piece">Text generated since the previous call.</param>
    /// <param name="finished">No more text will come (EOS, stop token, length): release everything held back.</param>
    public StopStringMatch Advance(string piece, bool finished)
    {
        if (_stopped) throw new InvalidOperationException("the completion already stopped at a stop string");
        // Text released earlier was followed by too little text to hold a stop string, so a new
        // occurrence cannot start before the held-back text: only it and the new piece need searching.
        string text = _held + piece;
        int bestStart = -1, bestEnd = int.MaxValue;
        string? best = null;
        foreach (string stop in _stops)
        {
            int start = text.IndexOf(stop, StringComparison.Ordinal);
            if (start < 0) continue;
            int end = start + stop.Length;
            if (end < bestEnd || (end == bestEnd && start < bestStart)) (bestStart, bestEnd, best) = (start, end, stop);
        }
        if (best is not null)
        {
            _stopped = true;
            _held = "";
            return new StopStringMatch(true, text[..(_includeStop ? bestEnd : bestStart)], best);
        }
        int safe = finished ? text.Length : text.Length - LongestSuffixStartingAStop(text);
        if (!finished && safe > 0 && char.IsHighSurrogate(text[safe - 1])) safe--;
        _held = text[safe..];
        return new StopStringMatch(false, text[..safe]);
    }

    int LongestSuffixStartingAStop(string text)
    {
        int longest = 0;
        foreach (string stop in _stops)
            for (int length = Math.Min(stop.Length - 1, text.Length); length > longest; length--)
                if (text.AsSpan().EndsWith(stop.AsSpan(0, length), StringComparison.Ordinal))
                {
                    longest = length;
                    break;
                }
        return longest;
    }
}
