from __future__ import annotations

from datetime import datetime

from admin_api.schemas import ApiModel


class UserOut(ApiModel):
    id: str
    email: str
    display_name: str
    created_at: datetime
    last_login_at: datetime | None = None
