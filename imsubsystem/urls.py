app_name = "imsubsystem"
urlpatterns: list = []
