namespace Rollout.Engine.Sampling;

/// <summary>The outcome of one <see cref="StopStringMatcher.Advance"/> call.</summary>
/// <param name="Stopped">A stop string appeared: the completion ends here and <paramref name="Text"/> is its last piece.</param>
/// <param name="Text">Text that may now be shown, following what earlier calls returned.</param>
internal readonly record struct StopStringMatch(bool Stopped, string Text);

/// <summary>
/// Watches the streamed text of one completion for <see cref="SamplingParams.Stop"/> strings. It releases
/// text only when no stop string could still begin in it, so nothing shown is ever retracted: it holds back
/// the longest suffix that is a prefix of some stop string, and never splits a surrogate pair.
/// </summary>
/// <remarks>
/// The stop that wins is the one that completes first (earliest end, then earliest start). That is what
/// character-by-character streaming would find, so the result does not depend on how the text was chunked.
/// </remarks>
internal sealed class StopStringMatcher
{
    readonly IReadOnlyList<string> _stops;
    readonly bool _includeStop;
    int _released;
    bool _stopped;

    /// <param name="stopStrings">Non-empty stop strings (validated by <see cref="SamplingParams.Validate"/>).</param>
    /// <param name="includeStopString">Whether the released text ends after the stop string rather than before it.</param>
    public StopStringMatcher(IReadOnlyList<string> stopStrings, bool includeStopString)
    {
        _stops = stopStrings;
        _includeStop = includeStopString;
    }

    /// <summary>Takes all the text generated so far and returns what may be shown beyond what was already returned.</summary>
    /// <param name="text">The cumulative text; each call extends the previous one.</param>
    /// <param name="finished">No more text will come (EOS, stop token, length): release everything held back.</param>
    public StopStringMatch Advance(string text, bool finished)
    {
        if (_stopped) throw new InvalidOperationException("the completion already stopped at a stop string");
        if (text.Length < _released) throw new ArgumentException("the text must extend the text of the previous call", nameof(text));

        // Everything before _released was followed by too little text to hold a stop string, so a new
        // occurrence cannot start before it: only the held-back tail and the new text need searching.
        int bestStart = -1, bestEnd = int.MaxValue;
        foreach (string stop in _stops)
        {
            int start = text.IndexOf(stop, _released, StringComparison.Ordinal);
            if (start < 0) continue;
            int end = start + stop.Length;
            if (end < bestEnd || (end == bestEnd && start < bestStart)) (bestStart, bestEnd) = (start, end);
        }
        if (bestStart >= 0)
        {
            _stopped = true;
            return new StopStringMatch(true, Release(text, _includeStop ? bestEnd : bestStart));
        }
        if (finished) return new StopStringMatch(false, Release(text, text.Length));

        int safe = text.Length - LongestSuffixStartingAStop(text);
        if (safe > _released && char.IsHighSurrogate(text[safe - 1])) safe--;
        return new StopStringMatch(false, Release(text, safe));
    }

    string Release(string text, int upTo)
    {
        string piece = text[_released..upTo];
        _released = upTo;
        return piece;
    }

    int LongestSuffixStartingAStop(string text)
    {
        var unreleased = text.AsSpan(_released);
        int longest = 0;
        foreach (string stop in _stops)
            for (int length = Math.Min(stop.Length - 1, unreleased.Length); length > longest; length--)
                if (unreleased.EndsWith(stop.AsSpan(0, length), StringComparison.Ordinal))
                {
                    longest = length;
                    break;
                }
        return longest;
    }
}
