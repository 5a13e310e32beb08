"""Which rendition sets live articles show (table ``media_refs``).

Rendition sets are content-addressed and shared: two articles with the same picture show the
same ``media/<set>/`` files. So a withdrawal cannot simply delete its pictures' files: another
article may show them, or be publishing them at this moment (it found the set made already and
is about to commit). Files are therefore never deleted; the feed service serves a set only
while a published article refers to it. The references change in the transaction that
publishes or withdraws the article, so a concurrent publication of the same picture and a
withdrawal each change only their own rows, and the set stays served exactly while one of
them is live (docs/architecture.md, "Withdrawal").
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from shared.models import MediaRef


def sets_of(media: dict | None) -> set[str]:
    """The rendition sets an article's pictures (``ArticleRow.media``) are in."""
    return {
        m["set"]
        for m in (media or {}).values()
        if isinstance(m, dict) and m.get("status") == "ok" and isinstance(m.get("set"), str)
    }


def replace(session: Session, article_id: str, media: dict | None) -> None:
    """The article is live with these pictures (in the caller's publishing transaction)."""
    wanted = sets_of(media)
    have = set(session.scalars(select(MediaRef.set_key).where(MediaRef.article_id == article_id)))
    if have - wanted:
        session.execute(
            delete(MediaRef).where(
                MediaRef.article_id == article_id, MediaRef.set_key.in_(have - wanted)
            )
        )
    session.add_all(MediaRef(set_key=k, article_id=article_id) for k in sorted(wanted - have))


def drop(session: Session, article_id: str) -> None:
    """The article is no longer live (in the caller's withdrawing transaction)."""
    session.execute(delete(MediaRef).where(MediaRef.article_id == article_id))


def is_live(session: Session, set_key: str) -> bool:
    """Whether any live article shows this set (one primary-key range lookup)."""
    found = session.scalar(select(MediaRef.article_id).where(MediaRef.set_key == set_key).limit(1))
    return found is not None
