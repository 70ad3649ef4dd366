using System.Collections;

namespace Rollout.Engine.Sequences;

/// <summary>
/// A list that only grows, whose <see cref="Snapshot"/> is an O(1) read-only view of the items so far.
/// Items are never overwritten: appends go past every view's end, and growing copies into a new array
/// that older views do not see. So a view handed to another thread (through a channel, which orders
/// the writes before it) stays valid and unchanged while the owner keeps appending on its own thread.
/// Streaming a completion's tokens, logprobs and versions each step then costs what the step added,
/// not the whole length.
/// </summary>
internal sealed class AppendOnlyList<T> : IReadOnlyList<T>
{
    T[] _items;
    int _count;

    public AppendOnlyList(int capacity = 16) => _items = new T[Math.Max(1, capacity)];

    public int Count => _count;

    public T this[int index] => (uint)index < (uint)_count ? _items[index] : throw new ArgumentOutOfRangeException(nameof(index));

    public void Add(T item)
    {
        if (_count == _items.Length) Array.Resize(ref _items, _items.Length * 2);
        _items[_count++] = item;
    }

    public void AddRange(ReadOnlySpan<T> items)
    {
        if (_count + items.Length > _items.Length) Array.Resize(ref _items, Math.Max(_items.Length * 2, _count + items.Length));
        items.CopyTo(_items.AsSpan(_count));
        _count += items.Length;
    }

    /// <summary>The items so far, as a view that later appends do not change.</summary>
    public View Snapshot() => new(_items, _count);

    public ReadOnlySpan<T> AsSpan() => _items.AsSpan(0, _count);

    public IEnumerator<T> GetEnumerator() => Snapshot().GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>A fixed prefix of an <see cref="AppendOnlyList{T}"/>.</summary>
    internal sealed class View(T[] items, int count) : IReadOnlyList<T>
    {
        public int Count => count;

        public T this[int index] => (uint)index < (uint)count ? items[index] : throw new ArgumentOutOfRangeException(nameof(index));

        public ReadOnlySpan<T> AsSpan() => items.AsSpan(0, count);

        public IEnumerator<T> GetEnumerator()
        {
            for (int i = 0; i < count; i++) yield return items[i];
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
