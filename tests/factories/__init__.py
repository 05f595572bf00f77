"""factory_boy factories, one module per app; import them from here."""

from tests.factories.bots import (  # noqa: F401
    BotFlowFactory,
    BusinessHoursFactory,
    FaqEntryFactory,
    FlowStepFactory,
    SpecialDayFactory,
    WeeklyHoursFactory,
)
from tests.factories.crm import (  # noqa: F401
    CompanyFactory,
    ContactFactory,
    ContactIdentityFactory,
    NoteFactory,
    TagFactory,
    UserFactory,
)
from tests.factories.imsubsystem import (  # noqa: F401
    CannedResponseFactory,
    ConversationFactory,
    InboxFactory,
)
from tests.factories.media import (  # noqa: F401
    AttachmentFactory,
    MediaPolicyFactory,
)
from tests.factories.routing import (  # noqa: F401
    AgentProfileFactory,
    QueueFactory,
    SkillFactory,
)
